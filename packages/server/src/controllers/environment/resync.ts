// Which environments the periodic resync hands to the queue. One runner.list() (one round trip
// to a remote runner) replaces an observe per environment, and only environments a pass would
// change are enqueued: enqueueing every row every 10 s cost a pass per environment (bench/api
// with thousands of environments spent a fifth of the control plane's CPU on passes that did
// nothing). The test is the pass's own: plan() has steps, the stored observation is stale, or a
// condition waits to be cleared (RunnerUnreachable included: a runner that lists the environment
// is back). Anything the runner does not report gets a full pass.
import type { EnvObserved } from "@warren/protocol";
import { type EnvRow, parseConditions } from "../../store/queries/envs.ts";
import { durableObserved, RESIZE_PENDING, RETRY_CONDITION } from "./act.ts";
import { plan } from "./plan.ts";
import { RUNNER_UNREACHABLE } from "./unreachable.ts";

export function needsPass(row: EnvRow, observed: EnvObserved | undefined): boolean {
  if (!observed) return true;
  const steps = plan({
    row: {
      desired: row.desired,
      state: row.state,
      stopGraceMs: row.stop_grace_ms,
      resources: { cpus: row.cpus, memoryBytes: row.memory_bytes, pids: row.pids },
    },
    observed,
  });
  if (steps.length > 0) return true;
  if (row.observed !== JSON.stringify(durableObserved(observed))) return true;
  const settles = new Set([RETRY_CONDITION, RESIZE_PENDING, RUNNER_UNREACHABLE]);
  return parseConditions(row).some((c) => settles.has(c.type));
}

/** The ids to enqueue; every row when the runner cannot list (it may be restarting). */
export function resyncIds(rows: EnvRow[], listed: EnvObserved[] | undefined): string[] {
  if (!listed) return rows.map((r) => r.id);
  const byId = new Map(listed.map((o) => [o.id, o]));
  return rows.filter((r) => needsPass(r, byId.get(r.id))).map((r) => r.id);
}
