// From cores to the values in the cgroup files, and the writes that move a group from its current
// values to the wanted ones. Only changed values are written.
import { CPU_PERIOD_US } from "../cgroups/oci.ts";
import type { CgroupMode, CpuWrite, CurrentCpuValues } from "./types.ts";

/** The kernel's accepted ranges: v1 cpu.shares 2..262144, v2 cpu.weight 1..10000. */
export const SHARE_RANGE = {
  v1: { per: 1024, min: 2, max: 262_144 },
  v2: { per: 100, min: 1, max: 10_000 },
} as const;

/** The work-conserving share: fairness between busy neighbours comes from this, not from caps. */
export function baseShare(mode: CgroupMode, cpus: number): number {
  const r = SHARE_RANGE[mode];
  return Math.min(r.max, Math.max(r.min, Math.round(r.per * cpus)));
}

export interface WantedCpuValues {
  share: number;
  quotaUs: number;
}

/**
 * The writes, in an order the kernel accepts: it refuses a CFS burst above the quota, so a lower
 * quota goes after its lower burst and a higher quota before its higher burst. The burst equals
 * the quota (the most the kernel allows) where the kernel has a burst at all.
 */
export function cpuWrites(
  mode: CgroupMode,
  envId: string,
  current: CurrentCpuValues,
  want: WantedCpuValues,
): CpuWrite[] {
  const writes: CpuWrite[] = [];
  if (current.share !== want.share)
    writes.push({ envId, file: mode === "v1" ? "cpu.shares" : "cpu.weight", value: String(want.share) });
  const quota: CpuWrite[] =
    current.quotaUs === want.quotaUs
      ? []
      : [
          mode === "v1"
            ? { envId, file: "cpu.cfs_quota_us", value: String(want.quotaUs) }
            : { envId, file: "cpu.max", value: `${want.quotaUs} ${CPU_PERIOD_US}` },
        ];
  const burst: CpuWrite[] =
    current.burstUs === null || current.burstUs === want.quotaUs
      ? []
      : [{ envId, file: mode === "v1" ? "cpu.cfs_burst_us" : "cpu.max.burst", value: String(want.quotaUs) }];
  const lowering = current.quotaUs === null || want.quotaUs < current.quotaUs;
  writes.push(...(lowering ? [...burst, ...quota] : [...quota, ...burst]));
  return writes;
}
