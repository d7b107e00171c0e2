// `warren top`'s screen: the runners' capacity, allocation and use, then one line per environment,
// cut to the terminal's size. Pure, unit-tested.
import { formatSize } from "@warren/protocol";
import { renderTable } from "../format.ts";
import type { TopEnvRow, TopSnapshot } from "./top-model.ts";

const dash = "-";
const pct = (n: number | null) => (n === null ? dash : `${n.toFixed(1)}%`);
const psi = (v: number | null | undefined) => (v === null || v === undefined ? dash : v.toFixed(1));
const perSecond = (n: number | null) => (n === null ? dash : `${formatSize(n)}/s`);

export const TOP_ENV_COLUMNS = [
  "NAME",
  "STATE",
  "CPU",
  "CPU%",
  "MEMORY",
  "MEM%",
  "PSI C/M/I",
  "DISK",
  "NET RX",
  "NET TX",
];
export const TOP_RUNNER_COLUMNS = [
  "RUNNER",
  "HOST",
  "RUNNING",
  "CPUS ALLOC/USED/CAP",
  "MEMORY ALLOC/USED/CAP",
];

export function envCells(r: TopEnvRow): string[] {
  return [
    r.name,
    r.state,
    r.cpuCores === null ? dash : `${r.cpuCores.toFixed(2)}/${r.cpuLimit}`,
    pct(r.cpuPercent),
    r.memoryBytes === null ? dash : `${formatSize(r.memoryBytes)}/${formatSize(r.memoryLimitBytes)}`,
    pct(r.memoryPercent),
    r.psi ? `${psi(r.psi.cpu)}/${psi(r.psi.memory)}/${psi(r.psi.io)}` : dash,
    r.diskUsedBytes === null ? dash : `${formatSize(r.diskUsedBytes)}/${formatSize(r.diskQuotaBytes)}`,
    perSecond(r.rxBytesPerSecond),
    perSecond(r.txBytesPerSecond),
  ];
}

/** The whole screen as lines no wider than `width`, at most `height` of them. */
export function renderTop(s: TopSnapshot, size: { width: number; height: number }): string[] {
  const runners = renderTable(
    TOP_RUNNER_COLUMNS,
    s.runners.map((r) => [
      r.id,
      r.hostname,
      String(r.running),
      `${r.allocatedCpus}/${r.usedCores.toFixed(2)}/${r.cpus}`,
      `${formatSize(r.allocatedMemoryBytes)}/${formatSize(r.usedMemoryBytes)}/${formatSize(r.memoryBytes)}`,
    ]),
  );
  const envs = renderTable(TOP_ENV_COLUMNS, s.environments.map(envCells));
  const title = `warren top - ${s.at} - sorted by ${s.sort} (c/m/p to sort, q to quit)`;
  const lines = [title, "", ...runners.trimEnd().split("\n"), "", ...envs.trimEnd().split("\n")];
  const cut = lines.map((l) => (l.length > size.width ? l.slice(0, Math.max(0, size.width)) : l));
  if (cut.length <= size.height) return cut;
  const hidden = cut.length - size.height + 1;
  return [...cut.slice(0, size.height - 1), `... ${hidden} more`.slice(0, size.width)];
}
