// Placement = filter + score + explain. Pure: the caller supplies the snapshots and records the
// decision; admission (the conditional capacity update) then confirms it against the store.
//
// Large fleets: scoring every runner on every create costs O(runners) per placement, which at
// 10,000 runners and 1,000 creates/s is most of a core. Like Nomad's service scheduler, past
// FULL_SCAN_LIMIT runners the filter walks them from a random start and stops once it has
// max(2, log2 n) that fit; those are scored. A fleet that has no fit is still walked whole, so
// the refusal names every runner's reason.
import { explainPlacement, explainUnschedulable, placementReasons } from "./explain.ts";
import { whyRejected } from "./filter.ts";
import { rankRunners } from "./score.ts";
import type { PlacementDecision, PlacementRequest, RejectedRunner, RunnerSnapshot } from "./types.ts";

/** Up to this many runners every one is scored: small fleets get the best placement there is. */
export const FULL_SCAN_LIMIT = 128;

/** How many fitting runners a large fleet's placement scores. */
export function sampleSize(runners: number): number {
  return Math.max(2, Math.ceil(Math.log2(Math.max(1, runners))));
}

export function placeEnvironment(
  req: PlacementRequest,
  runners: RunnerSnapshot[],
  /** [0, 1); injectable so the sampling is table-testable. */
  random: () => number = Math.random,
): PlacementDecision {
  const n = runners.length;
  const limit = n > FULL_SCAN_LIMIT ? sampleSize(n) : n;
  const start = n > FULL_SCAN_LIMIT ? Math.floor(random() * n) % n : 0;
  const fits: RunnerSnapshot[] = [];
  const rejected: RejectedRunner[] = [];
  for (let i = 0; i < n && fits.length < limit; i++) {
    const runner = runners[(start + i) % n] as RunnerSnapshot;
    const why = whyRejected(req, runner);
    if (why === undefined) fits.push(runner);
    else rejected.push({ runnerName: runner.name, why });
  }
  const [best, ...others] = rankRunners(req, fits);
  if (!best) {
    rejected.sort((a, b) => (a.runnerName < b.runnerName ? -1 : a.runnerName > b.runnerName ? 1 : 0));
    return { kind: "unschedulable", explanation: explainUnschedulable(rejected), rejected };
  }
  const reasons = placementReasons(best, others);
  return {
    kind: "placed",
    runnerId: best.runner.id,
    runnerName: best.runner.name,
    reasons,
    explanation: explainPlacement(best.runner.name, reasons),
  };
}
