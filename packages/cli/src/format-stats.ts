// The `warren stats` table, like `docker stats`: one row per environment. Pure, unit-tested.
import { type EnvStats, formatSize } from "@warren/protocol";
import { renderTable } from "./format.ts";

export const STATS_COLUMNS = [
  "NAME",
  "CPU",
  "MEM USAGE / LIMIT",
  "MEM %",
  "PIDS",
  "DISK USED / QUOTA",
  "PSI CPU/MEM/IO",
  "OOM",
];

/** v1 reports "no limit" as a huge number (clamped to MAX_SAFE_INTEGER); past 4 PiB is no limit. */
const NO_LIMIT = 2 ** 52;

function pct(used: number, limit: number): string {
  if (!(limit > 0) || limit >= NO_LIMIT) return "-";
  return `${((100 * used) / limit).toFixed(1)}%`;
}

const psiText = (v: number | null) => (v === null ? "-" : v.toFixed(2));

export function statsRow(s: EnvStats): string[] {
  const memLimit = s.memoryLimitBytes >= NO_LIMIT ? "unlimited" : formatSize(s.memoryLimitBytes);
  return [
    s.name ?? s.id,
    // Cores in use, averaged over the sample window (1.00 cpus is one core busy).
    `${s.cpuCores.toFixed(2)} cpus`,
    `${formatSize(s.memoryWorkingSetBytes)} / ${memLimit}`,
    pct(s.memoryWorkingSetBytes, s.memoryLimitBytes),
    s.pidsLimit > 0 ? `${s.pids} / ${s.pidsLimit}` : String(s.pids),
    `${formatSize(s.diskUsedBytes)} / ${formatSize(s.diskQuotaBytes)}`,
    `${psiText(s.psi.cpu)}/${psiText(s.psi.memory)}/${psiText(s.psi.io)}`,
    String(s.oomKills),
  ];
}

export function statsTable(stats: EnvStats[]): string {
  const sorted = [...stats].sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id));
  return renderTable(STATS_COLUMNS, sorted.map(statsRow));
}
