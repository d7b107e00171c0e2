// Placement = filter + score + explain. Pure: the caller supplies the snapshots and records the
// decision; admission (the conditional capacity update) then confirms it against the store.
import { explainPlacement, explainUnschedulable, placementReasons } from "./explain.ts";
import { whyRejected } from "./filter.ts";
import { rankRunners } from "./score.ts";
import type { PlacementDecision, PlacementRequest, RejectedRunner, RunnerSnapshot } from "./types.ts";

export function placeEnvironment(req: PlacementRequest, runners: RunnerSnapshot[]): PlacementDecision {
  const fits: RunnerSnapshot[] = [];
  const rejected: RejectedRunner[] = [];
  for (const runner of runners) {
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
