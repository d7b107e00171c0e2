// The runners connected over /api/runner/v1 (warren server mode), behind one RunnerApi so the
// controller and services are the same code as in embedded mode.
//
// Runners belong to an organisation (their token's org). An environment is only ever sent to a
// runner of its own organisation: a runner receives full specs, secrets included, so an org admin
// who connects a runner must never see another org's environments. Calls about an environment
// route by the environment's org (from the store); other calls (images, info, DNS stats) by the
// org the services name (`forOrg`, services/runner-for.ts); the hub itself, used by the system,
// sends them to the only org with a runner here, and refuses when there are several. Within one org the most recently connected runner serves: placement across many
// hosts belongs to the scheduler, which this release does not have yet.
//
// Several replicas (PostgreSQL): a runner's connection lands on one of them (presence.ts). The
// others admit creates with what it last reported and leave its environments to the replica
// that holds it; calls that need the runner live (exec, logs, stats, pulls) work only there.
import {
  type ImageInfo,
  type ProgressFn,
  type RunnerApi,
  type RunnerEnvSpec,
  type RunnerInfo,
  WarrenError,
  type WireConn,
} from "@warren/protocol";
import type { StreamClient } from "@warren/protocol/streams";
import type { FastifyBaseLogger } from "fastify";
import type { Db } from "../store/db.ts";
import { moveOrgEnvironments } from "../store/queries/runners.ts";
import { ownObservations } from "./own-reports.ts";
import { createRunnerPresence } from "./presence.ts";
import { RemoteRunner } from "./remote-runner.ts";

/** Who reconciles an environment: this replica, another one, or nobody can right now. */
export type Ownership = "mine" | "elsewhere" | "none";

export interface RunnerHub extends RunnerApi {
  /** Takes over a connection whose hello was read; sweeps that host, then serves it. */
  attach(
    conn: WireConn,
    p: { runnerId: string; orgId: string; info: RunnerInfo; streams?: StreamClient },
  ): Promise<RemoteRunner>;
  connected(): { runnerId: string; orgId: string; hostname: string }[];
  /** Called after a runner is attached (the daemon resyncs every environment). */
  onAttach(cb: (runnerId: string) => void): void;
  /** Whether this replica holds the runner of the environment's organisation. */
  ownership(envId: string): Promise<Ownership>;
  /**
   * The same hub with calls that are not about one environment sent to `orgId`'s runner;
   * undefined (the system) behaves like the hub itself.
   */
  forOrg(orgId: string | undefined): RunnerApi;
  close(): void;
}

export function createRunnerHub(o: { db: Db; logger: FastifyBaseLogger; replicaId: string }): RunnerHub {
  const byOrg = new Map<string, RemoteRunner[]>();
  const orgOfEnv = new Map<string, string>();
  const attachListeners: ((runnerId: string) => void)[] = [];
  const orgs = new Map<RemoteRunner, string>();
  const presence = createRunnerPresence({ db: o.db, replicaId: o.replicaId, logger: o.logger });
  presence.start(() => [...orgs.entries()].map(([runner, orgId]) => ({ runner, orgId })));

  const local = (orgId: string): RemoteRunner | undefined => {
    const live = (byOrg.get(orgId) ?? []).filter((r) => r.connected);
    return live[live.length - 1];
  };
  const unavailable = async (orgId: string): Promise<WarrenError> => {
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
  const pickFor = async (orgId: string): Promise<RemoteRunner> => {
    const r = local(orgId);
    if (!r) throw await unavailable(orgId);
    return r;
  };

  const envOrg = async (id: string): Promise<string> => {
    const known = orgOfEnv.get(id);
    if (known) return known;
    const row = await o.db
      .selectFrom("environments")
      .select("org_id")
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new WarrenError("ENV_NOT_FOUND", `no environment has id ${id}`);
    orgOfEnv.set(id, row.org_id); // an environment never changes organisation
    return row.org_id;
  };
  const forEnv = async (id: string) => pickFor(await envOrg(id));
  /** Calls not about one environment: the named org, or the only org with a runner here. */
  const orgFor = (orgId: string | undefined): string => {
    if (orgId !== undefined) return orgId;
    const withRunners = [...byOrg.keys()].filter((org) => local(org));
    if (withRunners.length === 1 && withRunners[0]) return withRunners[0];
    throw new WarrenError(
      "RUNNER_UNAVAILABLE",
      "no single runner serves this call: it must name the organisation whose runner it needs",
    );
  };

  /** The calls that pick a runner by organisation rather than by environment. */
  const orgCalls = (orgId: string | undefined) => {
    const pick = () => pickFor(orgFor(orgId));
    return {
      // Admission on a replica without the runner uses what the runner last reported, under the
      // id this server gave it (RemoteRunner stamps it on live answers; a stored row has its own).
      info: async () => {
        const org = orgFor(orgId);
        const r = local(org);
        if (r) return r.info();
        const other = await presence.elsewhere(org);
        if (other) return { ...other.info, id: other.id };
        throw await unavailable(org);
      },
      hasImage: async (ref: string) => {
        const org = orgFor(orgId);
        const r = local(org);
        if (r) return r.hasImage(ref);
        const other = await presence.elsewhere(org);
        if (other) return other.imageRefs.includes(ref);
        throw await unavailable(org);
      },
      listImages: async (): Promise<ImageInfo[]> => (await pick()).listImages(),
      importImage: async (p: string, ref: string | undefined, progress: ProgressFn) =>
        (await pick()).importImage(p, ref, progress),
      ensureBaseImage: async (opts: { mirror?: string }, progress: ProgressFn) =>
        (await pick()).ensureBaseImage(opts, progress),
      pullImage: async (ref: string, progress: ProgressFn, opts?: Parameters<RunnerApi["pullImage"]>[2]) =>
        (await pick()).pullImage(ref, progress, opts),
      removeImage: async (ref: string) => (await pick()).removeImage(ref),
      pruneImages: async (opts?: Parameters<RunnerApi["pruneImages"]>[0]) => (await pick()).pruneImages(opts),
      dnsStats: async () => (await pick()).dnsStats(),
      imageLabels: async (ref: string) => (await pick()).imageLabels(ref),
      removeTemplate: async (key: string) => (await pick()).removeTemplate(key),
    } satisfies Partial<RunnerApi>;
  };

  const hub: RunnerHub = {
    async attach(conn, p) {
      const remote = new RemoteRunner(conn, p.runnerId, p.info, p.streams);
      // Sweep BEFORE the runner can receive placements, so it cannot remove an environment
      // created while the sweep ran. Its org's environments are the keep set.
      const rows = await o.db.selectFrom("environments").select("id").where("org_id", "=", p.orgId).execute();
      const swept = await remote.sweep(new Set(rows.map((r) => r.id)));
      if (swept.length > 0) o.logger.info({ runnerId: p.runnerId, swept }, "runner swept leftovers");
      // It serves all of its org's environments from now on, so their slots and disk count against it.
      await moveOrgEnvironments(o.db, p.orgId, p.runnerId).catch((err: unknown) =>
        o.logger.warn({ err, runnerId: p.runnerId }, "environments stay recorded on their previous runner"),
      );
      const list = (byOrg.get(p.orgId) ?? []).filter((r) => r.connected && r.runnerId !== p.runnerId);
      for (const old of byOrg.get(p.orgId) ?? []) if (old.runnerId === p.runnerId) old.close("replaced");
      list.push(remote);
      byOrg.set(p.orgId, list);
      orgs.set(remote, p.orgId);
      remote.onClose((reason) => {
        o.logger.warn({ runnerId: p.runnerId, reason }, "runner disconnected");
        orgs.delete(remote);
        const rest = (byOrg.get(p.orgId) ?? []).filter((r) => r !== remote);
        if (rest.length) byOrg.set(p.orgId, rest);
        else byOrg.delete(p.orgId);
        if (!local(p.orgId) || local(p.orgId)?.runnerId !== p.runnerId) {
          presence
            .released(p.runnerId)
            .catch((err: unknown) => o.logger.warn({ err }, "recording a disconnect"));
        }
      });
      await presence.held(remote, p.orgId);
      o.logger.info({ runnerId: p.runnerId, orgId: p.orgId, hostname: p.info.hostname }, "runner connected");
      remote.welcome();
      for (const cb of attachListeners) cb(p.runnerId);
      return remote;
    },
    connected: () =>
      [...orgs.entries()].map(([r, orgId]) => ({
        runnerId: r.runnerId,
        orgId,
        hostname: r.infoAtHello.hostname,
      })),
    onAttach: (cb) => attachListeners.push(cb),
    async ownership(envId) {
      const org = await envOrg(envId);
      if (local(org)) return "mine";
      return (await presence.elsewhere(org)) ? "elsewhere" : "none";
    },
    close() {
      presence.close();
      for (const r of [...orgs.keys()]) r.close();
    },

    forOrg: (orgId) => (orgId === undefined ? hub : { ...hub, ...orgCalls(orgId) }),
    ...orgCalls(undefined),
    // Sweeps run per runner at attach (above); nothing is swept across the whole hub.
    sweep: async () => [],
    list: async () => {
      const live = [...orgs.entries()].filter(([r]) => r.connected);
      const all = await Promise.all(live.map(async ([r, org]) => ownObservations(o.db, org, await r.list())));
      return all.flat();
    },
    ensureRunning: async (spec: RunnerEnvSpec) => (await forEnv(spec.id)).ensureRunning(spec),
    ensureStopped: async (spec: RunnerEnvSpec, graceMs: number) =>
      (await forEnv(spec.id)).ensureStopped(spec, graceMs),
    setResources: async (spec: RunnerEnvSpec) => (await forEnv(spec.id)).setResources(spec),
    remove: async (id) => {
      await (await forEnv(id)).remove(id);
      orgOfEnv.delete(id);
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
