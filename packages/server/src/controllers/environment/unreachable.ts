// The condition an environment gains while its runner is out of reach (runners/health.ts): it keeps
// its last observed state, it is never re-created elsewhere (its disk is on that host), and the
// condition says since when. It goes when the runner is back (attach, or the next good pass).
import type { Condition } from "@warren/protocol";

export const RUNNER_UNREACHABLE = "RunnerUnreachable";

export function unreachableCondition(runnerName: string, since: string): Condition {
  return {
    type: RUNNER_UNREACHABLE,
    status: "True",
    reason: RUNNER_UNREACHABLE,
    message: `runner ${runnerName} has been unreachable since ${since}; the environment keeps its last observed state, stays on that host, and is re-adopted when the runner reconnects`,
    at: since,
  };
}

/** `conditions` with the unreachable condition set to `c` (replacing an older one). */
export function withUnreachable(conditions: Condition[], c: Condition): Condition[] {
  return [...conditions.filter((x) => x.type !== RUNNER_UNREACHABLE), c];
}

export function withoutUnreachable(conditions: Condition[]): Condition[] {
  return conditions.filter((x) => x.type !== RUNNER_UNREACHABLE);
}
