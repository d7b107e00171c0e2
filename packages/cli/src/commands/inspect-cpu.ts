// `warren inspect`'s CPU lines: the cap the kernel holds now, why, and the counters behind it.
import type { EnvCpuGovernor } from "@warren/protocol";
import { formatCpus } from "../format.ts";

export function cpuGovernorLines(g: EnvCpuGovernor): [label: string, value: string][] {
  const cap = g.limitCores === null ? "unlimited" : formatCpus(g.limitCores);
  const state = !g.governed
    ? "governor off"
    : g.granted
      ? `burst granted (base ${formatCpus(g.baseCores)})`
      : g.burstCores > g.baseCores
        ? `base; bursts to ${formatCpus(g.burstCores)} on idle cores`
        : "base; no burst";
  const lines: [string, string][] = [["CPU cap", `${cap} (${state})`]];
  if (g.explanation) lines.push(["CPU why", g.explanation]);
  lines.push([
    "Throttled",
    `${g.throttledPeriodsTotal} periods (${Number(g.throttledSecondsTotal.toFixed(1))} s); ${g.burstGrantsTotal} burst grants`,
  ]);
  return lines;
}
