// The fleet as admins see and steer it (`warren fleet`, /api/v1/fleet): each runner of their
// organisation with its state, capacity, what is allocated and what is used, and the scheduling
// states they set. Cordon keeps new environments off a runner (the scheduler's filter treats any
// state but active as cordoned); drain also stops every environment on it that is meant to run,
// through the environment service, so each stop is the graceful one reconcile performs. Moving
// them elsewhere needs backups, which do not exist yet, so a drain stops them and no more.
//
// Where the numbers come from: the runners and runner_capacity rows (what every replica shares),
// and, for a runner this replica holds, its latest report from memory (`live`), fresher than the
// row. Embedded mode's in-process runner has no runners row: it is shown from its own report and
// its capacity row, and cannot be cordoned (it is the only runner there is).
import {
  type FleetActionResult,
  type FleetList,
  type FleetRunner,
  type FleetRunnerState,
  type RunnerInfo,
  WarrenError,
} from "@warren/protocol";
import type { Clock } from "../clock.ts";
import type { Db } from "../store/db.ts";
import {
  autoscalerDecisions,
  envCountsByRunner,
  envStates,
  findRunnerId,
  runningOn,
  setRunnerSchedule,
} from "../store/queries/fleet.ts";
import { runnerCapacity } from "../store/queries/fleet-admission.ts";
import { type RunnerRecord, runnerRecords } from "../store/queries/runners.ts";
import type { RunnerSchedule } from "../store/schema-runners.ts";
import { type Actor, requireActor } from "./actor.ts";
import { nameOrg, requireAdmin } from "./scope.ts";

export interface FleetService {
  list(a: Actor): Promise<FleetList>;
  cordon(a: Actor, name: string): Promise<FleetActionResult>;
  uncordon(a: Actor, name: string): Promise<FleetActionResult>;
  drain(a: Actor, name: string): Promise<FleetActionResult>;
}

export interface FleetServiceOptions {
  db: Db;
  clock: Clock;
  /** Stops an environment (by id) as the environment service does: durable intent, then reconcile. */
  stop: (a: Actor, envId: string) => Promise<unknown>;
  /** The latest report of a runner this replica holds (usage from its last heartbeat), else undefined. */
  live?: (runnerId: string) => RunnerInfo | undefined;
  /** Embedded mode's in-process runner, which serves every organisation and has no runners row. */
  embedded?: { info(): Promise<RunnerInfo> };
  /** A held row not refreshed for this long belongs to a replica that died (as runners/presence.ts). */
  staleMs?: number;
  /** How long a drain waits for its stops before answering with the states so far. */
  drainWaitMs?: number;
}

const DEFAULT_STALE_MS = 30_000;
const DEFAULT_DRAIN_WAIT_MS = 10_000;

/** An empty count for a runner that holds no environment. */
const NONE = { total: 0, running: 0 };

export function createFleetService(o: FleetServiceOptions): FleetService {
  const { db, clock } = o;
  const staleMs = o.staleMs ?? DEFAULT_STALE_MS;

  function stateOf(r: RunnerRecord): FleetRunnerState {
    if (r.unreachableSince) return "unreachable";
    const fresh = clock.now() - Date.parse(r.seenAt) <= staleMs;
    if (r.replica === null || !fresh) return "disconnected";
    if (r.schedule === "draining") return "draining";
    if (r.schedule === "cordoned") return "cordoned";
    return "ready";
  }

  function view(r: RunnerRecord, counts: { total: number; running: number }): FleetRunner {
    const info = o.live?.(r.id) ?? r.info;
    return {
      id: r.id,
      name: r.name ?? r.id,
      state: stateOf(r),
      schedule: r.schedule,
      labels: r.labels,
      hostname: info.hostname,
      runtimes: [...info.runtimes],
      capacity: r.capacity,
      allocated: r.allocated,
      used: info.usage ?? null,
      environments: counts,
      lastHeartbeat: r.seenAt,
      unreachableSince: r.unreachableSince,
      unschedulable: info.unschedulable ?? null,
    };
  }

  async function embeddedView(orgId: string): Promise<FleetRunner | undefined> {
    if (!o.embedded) return undefined;
    const info = await o.embedded.info();
    const cap = await runnerCapacity(db, info.id);
    const counts = (await envCountsByRunner(db, orgId)).get(info.id) ?? NONE;
    return {
      id: info.id,
      // As placement names it (scheduler/embedded-view.ts).
      name: info.name ?? info.hostname,
      state: "ready",
      schedule: "active",
      labels: info.labels ?? {},
      hostname: info.hostname,
      runtimes: [...info.runtimes],
      capacity: cap
        ? { cpus: cap.cpus, memoryBytes: cap.memoryBytes, diskBytes: cap.diskBytes, slots: cap.slots }
        : { cpus: info.cpus, memoryBytes: info.memoryBytes, diskBytes: info.diskFreeBytes, slots: 0 },
      allocated: cap
        ? {
            cpus: cap.alloc.cpus,
            memoryBytes: cap.alloc.memoryBytes,
            diskBytes: cap.alloc.diskBytes,
            slots: cap.alloc.envs,
          }
        : { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0 },
      used: info.usage ?? null,
      environments: counts,
      lastHeartbeat: null,
      unreachableSince: null,
      unschedulable: info.unschedulable ?? null,
    };
  }

  /** The runner's id in the actor's organisation, or RUNNER_NOT_FOUND (also for another org's). */
  async function resolve(orgId: string, name: string): Promise<string> {
    const id = await findRunnerId(db, orgId, name);
    if (id) return id;
    const local = o.embedded ? await o.embedded.info() : undefined;
    if (local && [local.id, local.name ?? local.hostname].includes(name)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `runner "${name}" is the embedded daemon's own runner, the only one it has, so it cannot be cordoned or drained; run \`warren server\` with \`warren runner\` hosts for a fleet`,
        { runner: name },
      );
    }
    throw new WarrenError(
      "RUNNER_NOT_FOUND",
      `runner "${name}" does not exist in your organisation; see \`warren fleet ls\` for its runners`,
      { runner: name },
    );
  }

  async function one(orgId: string, id: string): Promise<FleetRunner> {
    const [r] = await runnerRecords(db, { id });
    if (!r)
      throw new WarrenError(
        "RUNNER_NOT_FOUND",
        `runner ${id} was removed meanwhile; see \`warren fleet ls\``,
      );
    return view(r, (await envCountsByRunner(db, orgId)).get(id) ?? NONE);
  }

  async function setSchedule(a: Actor, name: string, schedule: RunnerSchedule, what: string) {
    requireAdmin(a, what);
    const orgId = nameOrg(requireActor(a, what));
    const id = await resolve(orgId, name);
    await setRunnerSchedule(db, id, schedule);
    return { orgId, id };
  }

  /** Resolves once every stop settled or `ms` passed, whichever is first; never rejects. */
  function waitFor(stops: Promise<unknown>[], ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      void Promise.allSettled(stops).then(() => {
        clearTimeout(timer);
        done();
      });
    });
  }

  return {
    async list(a) {
      requireAdmin(a, "reading the fleet");
      const orgId = nameOrg(requireActor(a, "reading the fleet"));
      const [records, counts, autoscaler, local] = await Promise.all([
        runnerRecords(db, { orgId }),
        envCountsByRunner(db, orgId),
        autoscalerDecisions(db, orgId),
        embeddedView(orgId),
      ]);
      const items = records.map((r) => view(r, counts.get(r.id) ?? NONE));
      if (local && !items.some((r) => r.id === local.id)) items.push(local);
      items.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      return { items, autoscaler };
    },
    async cordon(a, name) {
      const { orgId, id } = await setSchedule(a, name, "cordoned", "cordoning a runner");
      return { runner: await one(orgId, id), stopping: [] };
    },
    async uncordon(a, name) {
      const { orgId, id } = await setSchedule(a, name, "active", "uncordoning a runner");
      return { runner: await one(orgId, id), stopping: [] };
    },
    async drain(a, name) {
      // The schedule first: no new environment lands on it while its own are being stopped.
      const { orgId, id } = await setSchedule(a, name, "draining", "draining a runner");
      const envs = await runningOn(db, id);
      // Each stop returns once its environment stopped; one that fails (removed meanwhile) is
      // reported by its state below, like one still stopping when the wait ends.
      const stops = envs.map((e) => o.stop(a, e.id));
      for (const s of stops) s.catch(() => {});
      await waitFor(stops, o.drainWaitMs ?? DEFAULT_DRAIN_WAIT_MS);
      const states = await envStates(
        db,
        envs.map((e) => e.id),
      );
      return {
        runner: await one(orgId, id),
        stopping: states.map((s) => ({ name: s.name, state: s.state })),
      };
    },
  };
}
