// The level-triggered warm-pool reconciler. A key is one pool's (organisation, image, class); each
// pass reads the pool's row, its members, its class and its surroundings, plans (plan.ts) and
// acts (act.ts). A periodic resync enqueues every configured pool and every key that still has
// members (a removed pool empties that way), prunes old claims, and finishes takeovers a crash
// interrupted. Claims and `pool set` enqueue their key at once.
import type { TimerHandle } from "../../clock.ts";
import type { FleetView } from "../../scheduler/fleet-view.ts";
import { type PoolClaimer, TAKEOVER_CONDITION } from "../../services/pool-claim.ts";
import { POOL_OWNER_ID } from "../../services/pool-owner.ts";
import { type ClassRow, cpuBurstColumn, getClass, ioLimitsColumn } from "../../store/queries/classes.ts";
import { egressFromColumn, egressToColumn } from "../../store/queries/egress.ts";
import { type EnvRow, parseConditions } from "../../store/queries/envs.ts";
import {
  findPool,
  listPoolMembers,
  listPools,
  type PoolKey,
  pendingTakeovers,
  pruneClaims,
  recentClaims,
  userStartsInFlight,
} from "../../store/queries/pool.ts";
import { createWorkQueue } from "../queue.ts";
import { actPool, type PoolActContext } from "./act.ts";
import {
  CLAIM_WINDOW_MS,
  type PoolMemberView,
  type PoolSnapshot,
  planPool,
  poolShareFits,
  type RunnerShare,
} from "./plan.ts";
import { parseStoredSchedule } from "./schedule.ts";

export interface PoolControllerOptions extends PoolActContext {
  claimer: PoolClaimer;
  /** The organisation's runners (placement's view), for the pool's share of them. */
  fleetFor: (orgId: string) => FleetView;
  resyncMs?: number;
  /** A claim older than this with its takeover unfinished is finished by the resync. */
  takeoverGraceMs?: number;
}

export interface PoolController {
  start(): void;
  enqueue(key: PoolKey): void;
  /** One pass for one key (the queue's handler; exposed for tests). */
  reconcile(key: PoolKey): Promise<void>;
  resync(): Promise<void>;
  idle(): Promise<void>;
  close(): Promise<void>;
}

const SEP = "\u0000";
const keyString = (k: PoolKey) => [k.orgId, k.image, k.className].join(SEP);
const keyOf = (s: string): PoolKey => {
  const [orgId, image, className] = s.split(SEP) as [string, string, string];
  return { orgId, image, className };
};

/** Whether a member was made with the class's current shape (a class change empties the pool). */
export function memberIsCurrent(m: EnvRow, cls: ClassRow): boolean {
  if (m.cpus !== cls.cpus || m.memory_bytes !== cls.memory_bytes) return false;
  if (m.disk_bytes !== cls.disk_bytes || m.pids !== cls.pids) return false;
  if (cls.runtime !== null && m.runtime !== cls.runtime) return false;
  // The class's column normalised the way a create writes the environment's.
  return (
    m.egress === egressToColumn(egressFromColumn(cls.egress)) &&
    (m.io_limits ?? null) === ioLimitsColumn(cls) &&
    cpuBurstColumn(m) === cpuBurstColumn(cls)
  );
}

export function createPoolController(o: PoolControllerOptions): PoolController {
  const { db, clock, logger } = o;
  const resyncMs = o.resyncMs ?? 5_000;
  const graceMs = o.takeoverGraceMs ?? 30_000;
  let timer: TimerHandle | undefined;
  let closed = false;

  const queue = createWorkQueue<string>({
    handler: (k) => reconcile(keyOf(k)),
    clock,
    concurrency: 1,
    baseDelayMs: 1_000,
    maxDelayMs: 60_000,
    onError: (k, err, attempt, retryInMs) =>
      logger.warn({ pool: keyOf(k), err, attempt, retryInMs }, "warm-pool pass failed; retrying"),
  });

  async function shares(orgId: string, members: EnvRow[]): Promise<RunnerShare[]> {
    const snaps = await o.fleetFor(orgId).snapshots(orgId, POOL_OWNER_ID);
    return snaps
      .filter((s) => s.connected && !s.cordoned && !s.unschedulable)
      .map((s) => {
        const mine = members.filter((m) => m.runner_id === s.id && m.desired !== "deleted");
        return {
          memoryBytes: s.capacity.memoryBytes,
          slots: s.capacity.slots,
          poolMemoryBytes: mine.reduce((a, m) => a + m.memory_bytes, 0),
          poolMembers: mine.length,
        };
      });
  }

  async function reconcile(key: PoolKey): Promise<void> {
    const pool = await findPool(db, key);
    const cls = await getClass(db, key.className, key.orgId);
    const all = await listPoolMembers(db, key.orgId);
    const mine = all.filter((m) => m.image === key.image && m.class_name === key.className);
    const now = clock.now();
    const members: PoolMemberView[] = mine.map((m) => {
      const failed = m.state === "failed" ? parseConditions(m).find((c) => c.type === "Failed") : undefined;
      return {
        id: m.id,
        state: m.state,
        desired: m.desired,
        current: cls ? memberIsCurrent(m, cls) : false,
        createdAtMs: Date.parse(m.created_at),
        ...(failed ? { failure: failed.message } : {}),
      };
    });
    const short = pool !== undefined && cls !== undefined;
    const snapshot: PoolSnapshot = {
      nowMs: now,
      pool: pool && {
        minSize: pool.min_size,
        maxSize: pool.max_size,
        schedule: parseStoredSchedule(pool.schedule),
        failures: pool.failures,
        retryAtMs: pool.retry_at ? Date.parse(pool.retry_at) : null,
      },
      classExists: cls !== undefined,
      members,
      recentClaims: pool ? await recentClaims(db, pool.id, new Date(now - CLAIM_WINDOW_MS).toISOString()) : 0,
      userStartsInFlight: short ? await userStartsInFlight(db, key.orgId) : 0,
      shareFits: short ? poolShareFits(await shares(key.orgId, all), cls.memory_bytes) : false,
    };
    const actions = planPool(snapshot);
    if (actions.some((a) => a.type !== "wait")) logger.debug({ pool: key, actions }, "warm-pool pass");
    await actPool(o, key, pool, actions);
    // Short and allowed to grow: look again soon rather than at the next resync.
    if (actions.some((a) => a.type === "create")) queue.add(keyString(key));
  }

  async function resync(): Promise<void> {
    try {
      const keys = new Set<string>();
      for (const p of await listPools(db))
        keys.add(keyString({ orgId: p.org_id, image: p.image, className: p.class_name }));
      for (const m of await listPoolMembers(db))
        keys.add(
          keyString({
            orgId: (m as EnvRow & { org_id: string }).org_id,
            image: m.image,
            className: m.class_name,
          }),
        );
      for (const k of keys) queue.add(k);
      await pruneClaims(db, new Date(clock.now() - CLAIM_WINDOW_MS).toISOString());
      for (const row of await pendingTakeovers(db, TAKEOVER_CONDITION)) {
        const mark = parseConditions(row).find((c) => c.type === TAKEOVER_CONDITION);
        if (!mark || clock.now() - Date.parse(mark.at) < graceMs) continue;
        await o.claimer.takeover(row).catch((err: unknown) => {
          logger.warn(
            { envId: row.id, err },
            "finishing a warm-pool takeover failed; retrying at the next resync",
          );
        });
      }
    } catch (err) {
      logger.error({ err }, "warm-pool resync failed");
    }
  }

  function schedule(): void {
    if (closed || resyncMs <= 0) return;
    timer = clock.setTimeout(() => void resync().finally(schedule), resyncMs);
  }

  return {
    start() {
      void resync().finally(schedule);
    },
    enqueue: (k) => queue.add(keyString(k), { now: true }),
    reconcile,
    resync,
    idle: () => queue.idle(),
    async close() {
      closed = true;
      if (timer) clock.clearTimeout(timer);
      await queue.close();
    },
  };
}
