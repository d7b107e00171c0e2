// `warren top`'s data: one snapshot from the API's reads (environments, their live stats and the
// runner), with network rates from the difference to the previous sample, sorted. Pure, unit-tested.
import type { Environment, EnvStats, Psi, RunnerInfo } from "@warren/protocol";

export const TOP_SORTS = ["cpu", "mem", "psi"] as const;
export type TopSort = (typeof TOP_SORTS)[number];

/** What one refresh read. `at` is when (ms). */
export interface TopSample {
  at: number;
  envs: Environment[];
  stats: EnvStats[];
  runner: RunnerInfo;
}

export interface TopEnvRow {
  name: string;
  state: string;
  /** Cores in use; null when it is not running (no stats). */
  cpuCores: number | null;
  cpuLimit: number;
  cpuPercent: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number;
  memoryPercent: number | null;
  psi: Psi | null;
  diskUsedBytes: number | null;
  diskQuotaBytes: number;
  /** Bytes per second in and out since the previous sample; null without two samples. */
  rxBytesPerSecond: number | null;
  txBytesPerSecond: number | null;
}

export interface TopRunnerRow {
  id: string;
  hostname: string;
  cpus: number;
  memoryBytes: number;
  running: number;
  allocatedCpus: number;
  allocatedMemoryBytes: number;
  usedCores: number;
  usedMemoryBytes: number;
}

export interface TopSnapshot {
  at: string;
  sort: TopSort;
  runners: TopRunnerRow[];
  environments: TopEnvRow[];
}

const percent = (used: number, limit: number) => (limit > 0 ? Math.round((1000 * used) / limit) / 10 : null);

/** Per second between two counter readings; null when either is missing or the counter went back. */
function rate(prev: number | undefined, cur: number | undefined, seconds: number): number | null {
  if (prev === undefined || cur === undefined || !(seconds > 0) || cur < prev) return null;
  return Math.round((cur - prev) / seconds);
}

/** The worst of an environment's pressures, for sorting. */
export function psiMax(p: Psi | null): number {
  if (!p) return -1;
  return Math.max(p.cpu ?? -1, p.memory ?? -1, p.io ?? -1);
}

export function sortRows(rows: TopEnvRow[], sort: TopSort): TopEnvRow[] {
  const key = (r: TopEnvRow) =>
    sort === "cpu" ? (r.cpuCores ?? -1) : sort === "mem" ? (r.memoryBytes ?? -1) : psiMax(r.psi);
  return [...rows].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name));
}

export function topSnapshot(cur: TopSample, prev: TopSample | undefined, sort: TopSort): TopSnapshot {
  const byId = new Map(cur.stats.map((s) => [s.id, s]));
  const before = new Map(prev?.stats.map((s) => [s.id, s]) ?? []);
  const seconds = prev ? (cur.at - prev.at) / 1000 : 0;
  const rows = cur.envs.map((env): TopEnvRow => {
    const s = byId.get(env.id);
    const p = before.get(env.id);
    const limits = env.spec.resources;
    const memLimit =
      s?.memoryLimitBytes && s.memoryLimitBytes < 2 ** 52 ? s.memoryLimitBytes : limits.memoryBytes;
    return {
      name: env.name,
      state: env.state,
      cpuCores: s ? s.cpuCores : null,
      cpuLimit: limits.cpus,
      cpuPercent: s ? percent(s.cpuCores, limits.cpus) : null,
      memoryBytes: s ? s.memoryWorkingSetBytes : null,
      memoryLimitBytes: memLimit,
      memoryPercent: s ? percent(s.memoryWorkingSetBytes, memLimit) : null,
      psi: s ? s.psi : null,
      diskUsedBytes: s ? s.diskUsedBytes : null,
      diskQuotaBytes: limits.diskBytes,
      rxBytesPerSecond: s ? rate(p?.networkReceiveBytes, s.networkReceiveBytes, seconds) : null,
      txBytesPerSecond: s ? rate(p?.networkTransmitBytes, s.networkTransmitBytes, seconds) : null,
    };
  });
  const running = cur.envs.filter((e) => e.state === "running");
  const r = cur.runner;
  return {
    at: new Date(cur.at).toISOString(),
    sort,
    runners: [
      {
        id: r.id,
        hostname: r.hostname,
        cpus: r.cpus,
        memoryBytes: r.memoryBytes,
        running: running.length,
        allocatedCpus: running.reduce((n, e) => n + e.spec.resources.cpus, 0),
        allocatedMemoryBytes: running.reduce((n, e) => n + e.spec.resources.memoryBytes, 0),
        usedCores: Math.round(1000 * cur.stats.reduce((n, s) => n + s.cpuCores, 0)) / 1000,
        usedMemoryBytes: cur.stats.reduce((n, s) => n + s.memoryWorkingSetBytes, 0),
      },
    ],
    environments: sortRows(rows, sort),
  };
}
