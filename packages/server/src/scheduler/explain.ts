// Human text for placement decisions, shown by `warren inspect`.
import type { ScoredRunner } from "./score.ts";
import type { RejectedRunner } from "./types.ts";

const percent = (f: number) => `${Math.round(f * 100)}%`;

/** Why the winner won, from its score terms compared with the other candidates. */
export function placementReasons(winner: ScoredRunner, others: ScoredRunner[]): string[] {
  const live = `live cpu ${percent(winner.cpuUse)}, memory ${percent(winner.memoryUse)}`;
  if (others.length === 0) {
    return [`only runner that fits (${live})`, ...(winner.imageCached ? ["image cached"] : [])];
  }
  const pack = (s: ScoredRunner) => s.cpuUse + s.memoryUse;
  const reasons = [
    others.every((o) => pack(winner) >= pack(o)) ? `busiest runner that fits (${live})` : live,
  ];
  if (winner.ownerEnvs === 0 && others.some((o) => o.ownerEnvs > 0))
    reasons.push("no other environment of this owner");
  else if (winner.ownerEnvs > 0)
    reasons.push(`${winner.ownerEnvs} environment(s) of this owner already there`);
  if (winner.imageCached) reasons.push("image cached");
  return reasons;
}

export function explainPlacement(runnerName: string, reasons: string[]): string {
  return `placed on ${runnerName}: ${reasons.join(", ")}`;
}

/** A refusal names at most this many runners (a large fleet's would not fit in an error). */
export const EXPLAINED_REJECTIONS = 10;

export function explainUnschedulable(rejected: RejectedRunner[]): string {
  if (rejected.length === 0) return "no runner can take it: no runners are registered";
  const named = rejected.slice(0, EXPLAINED_REJECTIONS).map((r) => `${r.runnerName} ${r.why}`);
  const more = rejected.length - named.length;
  return `no runner can take it: ${named.join("; ")}${more > 0 ? `; and ${more} more (see \`warren fleet ls\`)` : ""}`;
}
