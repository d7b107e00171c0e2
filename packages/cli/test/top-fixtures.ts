// What the fake daemon answers for `warren top`'s tests: one runner, and stats built from a few
// fields over quiet defaults.
import type { EnvStats, RunnerInfo } from "@warren/protocol";

export const GiB = 2 ** 30;

export function topRunner(cgroupMode: RunnerInfo["cgroupMode"]): RunnerInfo {
  return {
    id: "local",
    hostname: "host1",
    runtimes: ["runc"],
    cpus: 8,
    memoryBytes: 16 * GiB,
    diskFreeBytes: 100 * GiB,
    cgroupMode,
    idRange: { start: 0, size: 0 },
  };
}

export function envStats(id: string, over: Partial<EnvStats>): EnvStats {
  return {
    id,
    name: id,
    cpuCores: 0,
    memoryWorkingSetBytes: 0,
    memoryLimitBytes: 2 * GiB,
    pids: 1,
    pidsLimit: 0,
    diskUsedBytes: GiB,
    diskQuotaBytes: 10 * GiB,
    psi: { cpu: 0, memory: 0, io: 0 },
    oomKills: 0,
    at: "",
    ...over,
  };
}
