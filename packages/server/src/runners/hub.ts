// The runners connected over /api/runner/v1 (warren server mode), behind one RunnerApi so the
// controller and services are the same code as in embedded mode. An organisation has a pool of
// runners, connected at once, to any replica.
//
// Runners belong to an organisation (their token's org). An environment is only ever sent to a
// runner of its own organisation: a runner receives full specs, secrets included, so an org admin
// who connects a runner must never see another org's environments. Calls about an environment
// route by the runner its row records (environments.runner_id, chosen by placement; it changes
// only when the same host returns under a new token). Other calls go to a runner the services
// name: by organisation (`forOrg`: any connected runner of it, for image lists and host facts) or
// by id (`forRunner`: the runner a placement chose, for its image). The hub itself, used by the
// system, sends them to the only organisation with a runner here, and refuses when there are several.
//
// Several replicas (PostgreSQL): a runner's connection lands on one of them (presence.ts). The
// others place with what it last reported (fleet-cache.ts) and leave its environments to the
// replica that holds it; calls that need it live are relayed there (relay/) or refused saying so.
// A runner nobody holds for the grace period is unreachable (health.ts).
import type { RunnerApi, RunnerEnvSpec, RunnerInfo, WireConn } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import type { StreamClient } from "@warren/protocol/streams";
import type { FastifyBaseLogger } from "fastify";
import type { Db } from "../store/db.ts";
import {
  forgetRunner,
  moveRunnerEnvironments,
  namesakes,
  runnerRecords,
  tokenBinding,
} from "../store/queries/runners.ts";
import { createFleetCache, type FleetCache } from "./fleet-cache.ts";
import { createRunnerHealth, DEFAULT_UNREACHABLE_GRACE_MS, type RunnerHealth } from "./health.ts";
import { type OrgLevelCalls, orgLevelCalls } from "./hub-calls.ts";
import { ownObservations } from "./own-reports.ts";
import { createRunnerPresence, type HeldRunner } from "./presence.ts";
import { RemoteRunner } from "./remote-runner.ts";
import { checkTokenBinding, planIdentity, runnerName } from "./runner-identity.ts";

/** Who reconciles an environment: this replica, another one, or nobody can right now. */
export type Ownership = "mine" | "elsewhere" | "none";

export interface RunnerHub extends RunnerApi {
  /**
   * Takes over a connection whose hello was read: settles who it is (name, host id; AttachRefused
   * when it must not attach), sweeps that host, records it, then serves it.
   */
  attach(
    conn: WireConn,
    p: { runnerId: string; orgId: string; info: RunnerInfo; streams?: StreamClient },
  ): Promise<RemoteRunner>;
  connected(): { runnerId: string; orgId: string; name: string; hostname: string }[];
  /** Called after a runner is attached (the daemon resyncs its environments). */
  onAttach(cb: (runnerId: string) => void): void;
  /**
   * Whether this replica holds the runner the environment's row records. `route`: the row's
   * runner and organisation when the caller has just read it (not read again).
   */
  ownership(envId: string, route?: { runnerId: string; orgId: string }): Promise<Ownership>;
  /**
   * The same hub with calls that are not about one environment sent to a connected runner of
   * `orgId`; undefined (the system) behaves like the hub itself.
   */
  forOrg(orgId: string | undefined): RunnerApi;
  /** The same hub with calls that are not about one environment sent to runner `runnerId`. */
  forRunner(runnerId: string): RunnerApi;
  /** The latest report of a runner this replica holds (its last heartbeat), else undefined. */
  live(runnerId: string): RunnerInfo | undefined;
  /** What placement reads (scheduler/fleet-view.ts). */
  readonly fleet: FleetCache;
  /** Unreachable runners (exposed for tests and the daemon). */
  readonly health: RunnerHealth;
  /** One heartbeat now (tests). */
  beat(): Promise<void>;
  close(): void;
}

export interface RunnerHubOptions {
  db: Db;
  logger: FastifyBaseLogger;
  replicaId: string;
  /** How often held runners report usage (default 15 s). */
  heartbeatMs?: number;
  /** How long no replica may hold a runner before it is unreachable (default 60 s). */
  unreachableGraceMs?: number;
  /** How old the fleet cache's view of other replicas' runners may get (default 1.5 s). */
  fleetRefreshMs?: number;
  /** An environment's conditions changed (the change feed). */
  onEnvChange?: (envId: string) => void;
}

export function createRunnerHub(o: RunnerHubOptions): RunnerHub {
  const held = new Map<string, HeldRunner & { releasing?: Promise<void> }>();
  /** env id → the runner and organisation its row records. */
  const routes = new Map<string, { runnerId: string; orgId: string }>();
  const attachListeners: ((runnerId: string) => void)[] = [];
  const presence = createRunnerPresence({
    db: o.db,
    replicaId: o.replicaId,
    logger: o.logger,
    ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
  });
  presence.start(() => [...held.values()]);
  const liveHeld = (runnerId: string) => {
    const h = held.get(runnerId);
    return h?.remote.connected ? h : undefined;
  };
  const fleet = createFleetCache({
    db: o.db,
    replicaId: o.replicaId,
    staleMs: presence.staleMs,
    held: liveHeld,
    logger: o.logger,
    ...(o.fleetRefreshMs !== undefined ? { refreshMs: o.fleetRefreshMs } : {}),
  });
  const health = createRunnerHealth({
    db: o.db,
    logger: o.logger,
    graceMs: o.unreachableGraceMs ?? DEFAULT_UNREACHABLE_GRACE_MS,
    staleMs: presence.staleMs,
    onChange: (id) => o.onEnvChange?.(id),
  });
  health.start();

  const freshElsewhere = (r: { replica: string | null; seenAt: string; unreachableSince?: string | null }) =>
    r.replica !== null &&
    r.replica !== o.replicaId &&
    !r.unreachableSince &&
    Date.now() - Date.parse(r.seenAt) <= presence.staleMs;

  /** The organisation's most recently attached runner that this replica holds live. */
  const localOf = (orgId: string): RemoteRunner | undefined => {
    let last: RemoteRunner | undefined;
    for (const h of held.values()) if (h.orgId === orgId && h.remote.connected) last = h.remote;
    return last;
  };
  const orgUnavailable = async (orgId: string): Promise<WarrenError> => {
    const other = await presence.elsewhere(orgId).catch(() => undefined);
    return other
      ? new WarrenError(
          "RUNNER_UNAVAILABLE",
          `organisation ${orgId}'s runner (${other.info.hostname}) is connected to another replica of the control plane, and this call must reach it live; retry (give runner traffic session affinity at the load balancer)`,
          { orgId, runnerId: other.id },
        )
      : new WarrenError(
          "RUNNER_UNAVAILABLE",
          `no runner of organisation ${orgId} is connected; start one with \`warren runner --server URL --fingerprint F --token-file FILE\``,
          { orgId },
        );
  };
  const runnerUnavailable = async (runnerId: string, orgId?: string): Promise<WarrenError> => {
    const rec = (await runnerRecords(o.db, { id: runnerId }).catch(() => []))[0];
    const name = rec?.name ?? runnerId;
    if (rec && freshElsewhere(rec))
      return new WarrenError(
        "RUNNER_UNAVAILABLE",
        `runner ${name} (${rec.info.hostname}) is connected to another replica of the control plane, and this call must reach it live; retry (give runner traffic session affinity at the load balancer)`,
        { runnerId },
      );
    if (rec?.unreachableSince)
      return new WarrenError(
        "RUNNER_UNAVAILABLE",
        `runner ${name} has been unreachable since ${rec.unreachableSince}; its environments stay on it until it reconnects`,
        { runnerId },
      );
    if (!rec && orgId !== undefined) return orgUnavailable(orgId);
    return new WarrenError(
      "RUNNER_UNAVAILABLE",
      `runner ${name} is not connected; start it again with \`warren runner --server URL --fingerprint F --token-file FILE\``,
      { runnerId },
    );
  };

  /** The runner and organisation the environment's row records; cached while that runner is held here. */
  const routeOf = async (envId: string): Promise<{ runnerId: string; orgId: string }> => {
    const known = routes.get(envId);
    if (known && liveHeld(known.runnerId)) return known;
    const row = await o.db
      .selectFrom("environments")
      .select(["org_id", "runner_id"])
      .where("id", "=", envId)
      .executeTakeFirst();
    if (!row) throw new WarrenError("ENV_NOT_FOUND", `no environment has id ${envId}`);
    const route = { runnerId: row.runner_id, orgId: row.org_id };
    routes.set(envId, route);
    return route;
  };
  const forEnv = async (envId: string): Promise<RemoteRunner> => {
    const route = await routeOf(envId);
    const h = liveHeld(route.runnerId);
    // Placement only ever records a runner of the environment's own organisation; refuse anyway.
    if (h && h.orgId === route.orgId) return h.remote;
    throw await runnerUnavailable(route.runnerId, route.orgId);
  };

  const imagesChanged = (r: RemoteRunner) => {
    const h = held.get(r.runnerId);
    if (h?.remote === r) h.imagesDirty = true;
  };
  /** Calls not about one environment: the named org, or the only org with a runner here. */
  const orgFor = (orgId: string | undefined): string => {
    if (orgId !== undefined) return orgId;
    const orgs = new Set([...held.values()].filter((h) => h.remote.connected).map((h) => h.orgId));
    if (orgs.size === 1) return [...orgs][0]!;
    throw new WarrenError(
      "RUNNER_UNAVAILABLE",
      "no single runner serves this call: it must name the organisation whose runner it needs",
    );
  };
  const byOrg = (orgId: string | undefined): OrgLevelCalls =>
    orgLevelCalls({
      local: () => localOf(orgFor(orgId)),
      // Placement on a replica without the runner uses what it last reported, under the id this
      // server gave it (RemoteRunner stamps it on live answers; a stored row has its own).
      reported: async () => {
        const other = await presence.elsewhere(orgFor(orgId));
        return other ? { info: { ...other.info, id: other.id }, imageRefs: other.imageRefs } : undefined;
      },
      unavailable: () => orgUnavailable(orgFor(orgId)),
      imagesChanged,
    });
  const byRunner = (runnerId: string): OrgLevelCalls =>
    orgLevelCalls({
      local: () => liveHeld(runnerId)?.remote,
      // Placement chose it from a view that may lag: its own row (one read by key) must still
      // say a live replica holds it; if not, the organisation's view is re-read at once.
      reported: async () => {
        const [rec] = await runnerRecords(o.db, { id: runnerId });
        if (rec && freshElsewhere(rec))
          return { info: { ...rec.info, id: rec.id }, imageRefs: rec.imageRefs };
        if (rec) fleet.invalidate(rec.orgId);
        return undefined;
      },
      unavailable: () => runnerUnavailable(runnerId),
      imagesChanged,
    });

  const detach = (h: HeldRunner & { releasing?: Promise<void> }, reason: string) => {
    const runnerId = h.remote.runnerId;
    o.logger.warn({ runnerId, reason }, "runner disconnected");
    fleet.invalidate(h.orgId);
    if (held.get(runnerId) !== h) return;
    // Listed by connected() until the store says so too: a test (or operator) that waits for the
    // runner to be gone can then rely on the row.
    h.releasing = presence
      .released(runnerId)
      .catch((err: unknown) => o.logger.warn({ err }, "recording a disconnect"))
      .finally(() => {
        if (held.get(runnerId) === h) held.delete(runnerId);
      });
  };

  const hub: RunnerHub = {
    async attach(conn, p) {
      // A token serves the host that first used it, before anything of this connection counts.
      checkTokenBinding(await tokenBinding(o.db, p.runnerId), p.info.hostId);
      const remote = new RemoteRunner(conn, p.runnerId, p.info, p.streams);
      const name = runnerName(p.info);
      const plan = planIdentity({
        name,
        hostId: p.info.hostId,
        namesakes: await namesakes(o.db, {
          orgId: p.orgId,
          runnerId: p.runnerId,
          name,
          hostId: p.info.hostId,
        }),
        live: (n) => (held.has(n.id) ? liveHeld(n.id) !== undefined : freshElsewhere(n)),
        heldHere: (id) => liveHeld(id) !== undefined,
      });
      // The same token reconnecting, or the same host under a new one, replaces the old link.
      for (const id of [p.runnerId, ...plan.replace]) {
        const old = held.get(id);
        if (!old) continue;
        old.remote.close("replaced");
        await old.releasing;
      }
      for (const from of plan.moveFrom) {
        const moved = await moveRunnerEnvironments(o.db, from, p.runnerId);
        for (const id of moved) routes.delete(id);
        if (moved.length > 0)
          o.logger.info(
            { from, to: p.runnerId, moved: moved.length },
            "the same host returned under a new token",
          );
      }
      for (const id of plan.forget) await forgetRunner(o.db, id);
      // Sweep BEFORE the runner can receive placements, so it cannot remove an environment
      // created while the sweep ran. Its own environments are the keep set.
      const rows = await o.db
        .selectFrom("environments")
        .select("id")
        .where("runner_id", "=", p.runnerId)
        .execute();
      const swept = await remote.sweep(new Set(rows.map((r) => r.id)));
      if (swept.length > 0) o.logger.info({ runnerId: p.runnerId, swept }, "runner swept leftovers");
      const h: HeldRunner = {
        remote,
        orgId: p.orgId,
        name,
        live: remote.infoAtHello,
        images: [],
        written: remote.infoAtHello,
        writtenImages: [],
        beats: 0,
        imagesDirty: false,
      };
      await presence.held(h);
      await health.returned(p.runnerId);
      held.delete(p.runnerId); // re-inserted last: the org's most recent runner
      held.set(p.runnerId, h);
      remote.onClose((reason) => detach(h, reason));
      if (!remote.connected) detach(h, "closed while attaching");
      fleet.invalidate(p.orgId);
      o.logger.info(
        { runnerId: p.runnerId, orgId: p.orgId, name, hostname: p.info.hostname },
        "runner connected",
      );
      remote.welcome();
      for (const cb of attachListeners) cb(p.runnerId);
      return remote;
    },
    connected: () =>
      [...held.values()].map((h) => ({
        runnerId: h.remote.runnerId,
        orgId: h.orgId,
        name: h.name,
        hostname: h.remote.infoAtHello.hostname,
      })),
    onAttach: (cb) => attachListeners.push(cb),
    async ownership(envId, known) {
      const route = known ?? (await routeOf(envId));
      if (liveHeld(route.runnerId)) return "mine";
      const rec = await fleet.runner(route.runnerId);
      return rec && freshElsewhere(rec) ? "elsewhere" : "none";
    },
    live: (runnerId) => liveHeld(runnerId)?.live,
    fleet,
    health,
    beat: () => presence.beat(),
    close() {
      presence.close();
      health.close();
      fleet.close();
      for (const h of [...held.values()]) h.remote.close();
    },

    forOrg: (orgId) => (orgId === undefined ? hub : { ...hub, ...byOrg(orgId) }),
    forRunner: (runnerId) => ({ ...hub, ...byRunner(runnerId) }),
    ...byOrg(undefined),
    // Sweeps run per runner at attach (above); nothing is swept across the whole hub.
    sweep: async () => [],
    list: async () => {
      const live = [...held.values()].filter((h) => h.remote.connected);
      const all = await Promise.all(
        live.map(async (h) => ownObservations(o.db, h.orgId, h.remote.runnerId, await h.remote.list())),
      );
      return all.flat();
    },
    ensureRunning: async (spec: RunnerEnvSpec) => (await forEnv(spec.id)).ensureRunning(spec),
    ensureStopped: async (spec: RunnerEnvSpec, graceMs: number) =>
      (await forEnv(spec.id)).ensureStopped(spec, graceMs),
    setResources: async (spec: RunnerEnvSpec) => (await forEnv(spec.id)).setResources(spec),
    remove: async (id) => {
      await (await forEnv(id)).remove(id);
      routes.delete(id);
    },
    observe: async (id) => (await forEnv(id)).observe(id),
    appendEvent: async (id, m) => (await forEnv(id)).appendEvent(id, m),
    stats: async (id) => (await forEnv(id)).stats(id),
    dial: async (id, port, host) => (await forEnv(id)).dial(id, port, host),
    listPorts: async (id) => (await forEnv(id)).listPorts(id),
    // Builds and Feature fetches read the environment's files and use its network: its runner.
    fetchFeature: async (req, progress) => (await forEnv(req.envId)).fetchFeature(req, progress),
    buildImage: async (req, progress) => (await forEnv(req.envId)).buildImage(req, progress),
    saveTemplate: async (envId, key) => (await forEnv(envId)).saveTemplate(envId, key),
    exec: async (id, req, h) => (await forEnv(id)).exec(id, req, h),
    logs(id, opts, onData) {
      // LogStream is synchronous; resolve the runner first, then forward close.
      let inner: ReturnType<RunnerApi["logs"]> | undefined;
      let closed = false;
      const done = forEnv(id).then((r) => {
        if (closed) return;
        inner = r.logs(id, opts, onData);
        return inner.done;
      });
      return {
        done,
        close() {
          closed = true;
          inner?.close();
        },
      };
    },
  };
  return hub;
}
