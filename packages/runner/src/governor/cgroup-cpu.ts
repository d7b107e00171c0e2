// The governor's reads and writes of one environment's CPU files. v1 keeps usage in cpuacct and
// the CFS files in cpu; v2 keeps all of them in the one group. A file that is gone means the
// environment is gone (stopped or removed between the listing and the read): that reads as null
// and a write to it is skipped, never an error.
import path from "node:path";
import { errnoOf, parseKeyValues, readOptional, writeValue } from "../cgroups/fs.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { CpuWrite, CurrentCpuValues } from "./types.ts";

/** Cumulative counters since the group was made, plus the values the governor may change. */
export interface CpuGroupReading {
  usageNs: number;
  nrPeriods: number;
  nrThrottled: number;
  throttledNs: number;
  current: CurrentCpuValues;
}

type Paths = Pick<CgroupDriver, "mode" | "paths">;

/** v2 cpu.max is "QUOTA PERIOD" or "max PERIOD"; the quota in µs, or null when unlimited. */
export function parseCpuMax(text: string): number | null {
  const q = text.trim().split(/\s+/)[0];
  if (q === "max") return null;
  const n = Number(q);
  if (!Number.isSafeInteger(n)) throw new Error(`unexpected cpu.max ${JSON.stringify(text.trim())}`);
  return n;
}

/** v1 cfs_quota_us is -1 when unlimited. */
function parseQuotaV1(text: string): number | null {
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new Error(`unexpected cpu.cfs_quota_us ${JSON.stringify(text.trim())}`);
  return n < 0 ? null : n;
}

const num = (text: string, what: string): number => {
  const n = Number(text.trim());
  if (!Number.isFinite(n)) throw new Error(`unexpected ${what} ${JSON.stringify(text.trim())}`);
  return n;
};

/** Where the CPU files of `cgroupPath` live: [usage dir, CFS dir]. */
function dirs(cg: Paths, cgroupPath: string): { usage: string; cfs: string } | null {
  const p = cg.paths(cgroupPath);
  if (cg.mode === "v1") return p["cpu"] && p["cpuacct"] ? { usage: p["cpuacct"], cfs: p["cpu"] } : null;
  return p["unified"] ? { usage: p["unified"], cfs: p["unified"] } : null;
}

export async function readCpuGroup(cg: Paths, cgroupPath: string): Promise<CpuGroupReading | null> {
  const d = dirs(cg, cgroupPath);
  if (!d) return null;
  const at = (dir: string, f: string) => readOptional(path.join(dir, f));
  if (cg.mode === "v1") {
    const [usage, stat, shares, quota, burst] = await Promise.all([
      at(d.usage, "cpuacct.usage"),
      at(d.cfs, "cpu.stat"),
      at(d.cfs, "cpu.shares"),
      at(d.cfs, "cpu.cfs_quota_us"),
      at(d.cfs, "cpu.cfs_burst_us"),
    ]);
    if (usage === null || stat === null || shares === null || quota === null) return null;
    const s = parseKeyValues(stat);
    return {
      usageNs: num(usage, "cpuacct.usage"),
      nrPeriods: s.get("nr_periods") ?? 0,
      nrThrottled: s.get("nr_throttled") ?? 0,
      throttledNs: s.get("throttled_time") ?? 0,
      current: {
        share: num(shares, "cpu.shares"),
        quotaUs: parseQuotaV1(quota),
        burstUs: burst === null ? null : num(burst, "cpu.cfs_burst_us"),
      },
    };
  }
  const [stat, weight, max, burst] = await Promise.all([
    at(d.cfs, "cpu.stat"),
    at(d.cfs, "cpu.weight"),
    at(d.cfs, "cpu.max"),
    at(d.cfs, "cpu.max.burst"),
  ]);
  if (stat === null || weight === null || max === null) return null;
  const s = parseKeyValues(stat);
  return {
    usageNs: (s.get("usage_usec") ?? 0) * 1000,
    nrPeriods: s.get("nr_periods") ?? 0,
    nrThrottled: s.get("nr_throttled") ?? 0,
    throttledNs: (s.get("throttled_usec") ?? 0) * 1000,
    current: {
      share: num(weight, "cpu.weight"),
      quotaUs: parseCpuMax(max),
      burstUs: burst === null ? null : num(burst, "cpu.max.burst"),
    },
  };
}

/**
 * Applies one environment's writes in order. Returns false when its group vanished part-way (the
 * rest are skipped: there is nothing left to govern); other errors are the caller's to report.
 */
export async function applyCpuWrites(cg: Paths, cgroupPath: string, writes: CpuWrite[]): Promise<boolean> {
  const d = dirs(cg, cgroupPath);
  if (!d) return false;
  for (const w of writes) {
    try {
      await writeValue(path.join(d.cfs, w.file), w.value);
    } catch (err) {
      if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENODEV") return false;
      throw err;
    }
  }
  return true;
}
