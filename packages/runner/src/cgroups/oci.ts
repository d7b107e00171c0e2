// OCI linux.resources for an environment's limits. runc and crun turn these into v1 files or
// v2 files themselves, so the shape is the same on both modes.
import { WarrenError } from "@warren/protocol";
import type { CgroupLimits } from "./types.ts";

export const CPU_PERIOD_US = 100_000;
/** The kernel refuses CFS quotas below 1 ms. */
const MIN_QUOTA_US = 1000;

export function cpuQuotaUs(cpus: number): number {
  return Math.max(MIN_QUOTA_US, Math.round(cpus * CPU_PERIOD_US));
}

export function ociResources(limits: CgroupLimits): Record<string, unknown> {
  return {
    cpu: { quota: cpuQuotaUs(limits.cpus), period: CPU_PERIOD_US },
    // OCI "swap" is memory+swap (v1 memsw). Equal to the limit means no swap at all; on v2 the
    // runtimes translate it to memory.swap.max = swap - limit = 0.
    memory: { limit: limits.memoryBytes, swap: limits.memoryBytes },
    pids: { limit: limits.pids > 0 ? limits.pids : -1 },
  };
}

export function validateLimits(limits: CgroupLimits): void {
  const bad = (what: string) => {
    throw new WarrenError("INVALID_ARGUMENT", `invalid resource limits: ${what}`, { ...limits });
  };
  if (!(limits.cpus > 0) || !Number.isFinite(limits.cpus)) bad("cpus must be a positive number");
  if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes <= 0)
    bad("memoryBytes must be a positive integer");
  if (!Number.isSafeInteger(limits.pids) || limits.pids < 0)
    bad("pids must be a non-negative integer (0 = no limit)");
}
