// One line per environment for `warren inspect`: its CPU cap now and why.
import type { CapReason, CgroupMode } from "./types.ts";

const cores = (n: number) => `${Number(n.toFixed(2))}`;
const percent = (f: number) => `${Math.round(f * 100)}%`;

function why(r: CapReason): string {
  switch (r.kind) {
    case "base":
      return "its class cpus";
    case "noBurst":
      return "its class cpus (its burst is not above them, so it is never raised)";
    case "granted":
      return `burst granted: throttled while the host used ${percent(r.hostFraction)} of its ${cores(r.budgetCores)}-core budget`;
    case "kept":
      return r.quietTicks === 0
        ? "burst kept: still throttled at it"
        : `burst kept: ${r.quietTicks} of ${r.revertAfter} ticks without throttling before it reverts`;
    case "reverted":
      return `burst reverted after ${r.quietTicks} ticks without throttling`;
    case "revoked":
      return `burst revoked: the host used ${percent(r.hostFraction)} of its budget, and the heaviest usage gives back first`;
    case "hostBusy":
      return `its class cpus; throttled, but bursts need the host under ${percent(r.grantBelowFraction)} of its budget and it used ${percent(r.hostFraction)}`;
    case "noRoom":
      return `its class cpus; throttled, but a burst would bring the predicted use to ${cores(r.predictedCores)} cores, over the ${cores(r.budgetCores)}-core budget`;
  }
}

export interface ExplainedCap {
  mode: CgroupMode;
  limitCores: number;
  share: number;
  ewmaCores: number;
  throttledPeriods: number;
  reason: CapReason;
}

export function explainCap(d: ExplainedCap): string {
  const share = d.mode === "v1" ? `cpu.shares ${d.share}` : `cpu.weight ${d.share}`;
  return (
    `cpu cap ${cores(d.limitCores)} cores (${why(d.reason)}); ${share}; ` +
    `usage EWMA ${cores(d.ewmaCores)} cores; ${d.throttledPeriods} throttled periods in the last tick`
  );
}
