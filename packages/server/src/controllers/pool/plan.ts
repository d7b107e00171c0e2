// The pure half of the warm-pool reconciler: from one pool's configuration, its members and what
// is going on around it, decide what to create and what to remove. No I/O, so every case is a
// row in pool-plan.test.ts.
//
// Policy, in order:
// - A pool that is gone (or whose class is) empties: every member goes.
// - A member that failed to come up (or is still not up after START_TIMEOUT_MS) goes, and the pool backs off exponentially before the next
//   creation; the first member that reaches running clears the backoff.
// - A member made for an earlier shape of its class (cpus, memory, disk, pids, runtime, egress,
//   I/O limits) goes: changing a class empties its pool, and the pool refills with the new shape.
//   Changing the image is another pool key altogether (the old pool is removed or left to empty).
// - Size: the configured minimum raised by any schedule window open now, raised again to the
//   claims of the recent window (what was taken lately is what will be asked for next), capped
//   by the maximum.
// - Surplus goes newest first (the oldest have waited longest and are surely ready).
// - At most one member is created per pass, and none while another is still starting, while any
//   user's environment in the organisation waits to start (pool work queues behind users), during
//   backoff, or when it would take pool members past their share of the runners.
import type { DesiredState, EnvState } from "@warren/protocol";
import { type PoolWindow, scheduledMin } from "./schedule.ts";

/** How far back claims count toward the size. */
export const CLAIM_WINDOW_MS = 5 * 60_000;
/** Pool members may hold at most this share of a runner's memory and slots. */
export const POOL_SHARE = 0.2;
export const BACKOFF_BASE_MS = 5_000;
/** A member not running this long after it was made counts as failed (a start that keeps retrying). */
export const START_TIMEOUT_MS = 5 * 60_000;
export const BACKOFF_MAX_MS = 10 * 60_000;

export interface PoolMemberView {
  id: string;
  state: EnvState;
  desired: DesiredState;
  /** Made with the class's current shape. */
  current: boolean;
  createdAtMs: number;
  /** The failure's message, for a failed member. */
  failure?: string;
}

export interface PoolConfigView {
  minSize: number;
  maxSize: number;
  schedule: readonly PoolWindow[];
  failures: number;
  retryAtMs: number | null;
}

export interface PoolSnapshot {
  nowMs: number;
  /** Undefined: the pool was removed. */
  pool: PoolConfigView | undefined;
  classExists: boolean;
  members: readonly PoolMemberView[];
  recentClaims: number;
  userStartsInFlight: number;
  /** Whether one more member stays within POOL_SHARE of the runners (poolShareFits). */
  shareFits: boolean;
}

export type PoolAction =
  | { type: "create" }
  | { type: "delete"; id: string; why: "unconfigured" | "failed" | "stale" | "surplus" }
  | { type: "backoff"; failures: number; retryAtMs: number; error: string }
  | { type: "recovered" }
  /** Nothing to do now although the pool is short: says why (shown by `warren pool ls`). */
  | { type: "wait"; why: string };

export function backoffMs(failures: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS);
}

export function targetSize(p: PoolConfigView, nowMs: number, recentClaims: number): number {
  const floor = scheduledMin(p.minSize, p.schedule, nowMs);
  return Math.min(p.maxSize, Math.max(floor, recentClaims));
}

export function planPool(s: PoolSnapshot): PoolAction[] {
  const live = s.members.filter((m) => m.desired !== "deleted");
  if (!s.pool || !s.classExists) return live.map((m) => ({ type: "delete", id: m.id, why: "unconfigured" }));
  const pool = s.pool;
  const out: PoolAction[] = [];

  const stuck = (m: PoolMemberView) =>
    m.state !== "running" && m.desired === "running" && s.nowMs - m.createdAtMs > START_TIMEOUT_MS;
  const failed = live.filter((m) => m.state === "failed" || stuck(m));
  for (const m of failed) out.push({ type: "delete", id: m.id, why: "failed" });
  if (failed.length > 0) {
    const failures = pool.failures + failed.length;
    out.push({
      type: "backoff",
      failures,
      retryAtMs: s.nowMs + backoffMs(failures),
      error: failed[0]?.failure ?? `a pool member did not start within ${START_TIMEOUT_MS / 60_000} minutes`,
    });
  }
  // A member stopped meanwhile (a class's idle limit applies to members too) is no longer warm.
  const stale = live.filter((m) => !failed.includes(m) && (!m.current || m.desired !== "running"));
  for (const m of stale) out.push({ type: "delete", id: m.id, why: "stale" });

  const healthy = live.filter((m) => !failed.includes(m) && m.current && m.desired === "running");
  const ready = healthy.filter((m) => m.state === "running");
  if (failed.length === 0 && ready.length > 0 && pool.failures > 0) out.push({ type: "recovered" });

  const target = targetSize(pool, s.nowMs, s.recentClaims);
  if (healthy.length > target) {
    const newestFirst = [...healthy].sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? 1 : -1));
    for (const m of newestFirst.slice(0, healthy.length - target))
      out.push({ type: "delete", id: m.id, why: "surplus" });
    return out;
  }
  if (healthy.length === target) return out;

  const retryAt = failed.length > 0 ? Number.POSITIVE_INFINITY : (pool.retryAtMs ?? 0);
  if (healthy.length > ready.length) out.push({ type: "wait", why: "a member is starting" });
  else if (s.userStartsInFlight > 0) out.push({ type: "wait", why: "users' environments start first" });
  else if (retryAt > s.nowMs) out.push({ type: "wait", why: "backing off after a failed member" });
  else if (!s.shareFits)
    out.push({ type: "wait", why: `pool members would hold more than ${POOL_SHARE * 100}% of the runners` });
  else out.push({ type: "create" });
  return out;
}

export interface RunnerShare {
  memoryBytes: number;
  slots: number;
  /** What pool members (of every pool of the organisation) hold there now. */
  poolMemoryBytes: number;
  poolMembers: number;
}

/**
 * Whether one more member of `memoryBytes` keeps pool members within POOL_SHARE: over all the
 * runners together, and on at least one runner on its own (a member lives on one host).
 */
export function poolShareFits(runners: readonly RunnerShare[], memoryBytes: number): boolean {
  if (runners.length === 0) return false;
  const fits = (mem: number, slots: number, usedMem: number, used: number) =>
    usedMem + memoryBytes <= POOL_SHARE * mem && used + 1 <= Math.floor(POOL_SHARE * slots);
  const sum = (f: (r: RunnerShare) => number) => runners.reduce((a, r) => a + f(r), 0);
  return (
    fits(
      sum((r) => r.memoryBytes),
      sum((r) => r.slots),
      sum((r) => r.poolMemoryBytes),
      sum((r) => r.poolMembers),
    ) && runners.some((r) => fits(r.memoryBytes, r.slots, r.poolMemoryBytes, r.poolMembers))
  );
}
