import type { IoLimits } from "@warren/protocol";
import type { BlockDevice } from "./io-limits.ts";

// Cgroup drivers. On v1 (these hosts) the OCI runtime creates the per-controller groups from the
// spec's linux.resources; the driver reads usage, changes limits live, and removes leftovers.
// Every environment also gets a group under the cgroup2 mount for PSI, cgroup.kill and freeze.

export interface CgroupLimits {
  /** CPU quota in cores (0.5 = half a core). */
  cpus: number;
  memoryBytes: number;
  pids: number;
}

export interface PsiAvg10 {
  cpu: number | null;
  memory: number | null;
  io: number | null;
}

export interface CgroupUsage {
  cpuUsageNs: number;
  memoryBytes: number;
  memoryWorkingSetBytes: number;
  memoryLimitBytes: number;
  pids: number;
  /** pids.max; UNLIMITED when "max". */
  pidsLimit: number;
  oomKills: number;
}

export interface CgroupDriver {
  readonly mode: "v1" | "v2";
  /** Absolute directories of this environment's groups, by controller name (or "unified"). */
  paths(cgroupPath: string): Record<string, string>;
  /** Makes the PSI group (hybrid) or the whole group (v2) and moves `pid` into the PSI group. */
  attachPsi(cgroupPath: string, pid: number): Promise<void>;
  setLimits(cgroupPath: string, limits: CgroupLimits): Promise<void>;
  usage(cgroupPath: string): Promise<CgroupUsage>;
  psi(cgroupPath: string): Promise<PsiAvg10>;
  /** Kills every process in the group. */
  killAll(cgroupPath: string): Promise<void>;
  /** Removes the groups (children first). Idempotent; tolerates missing groups. */
  remove(cgroupPath: string): Promise<void>;
  /** Names of child groups directly under /<prefix> (for sweeping). */
  listUnder(prefix: string): Promise<string[]>;
  /** OCI linux.resources for these limits, in the shape the runtime expects on this mode. */
  ociResources(limits: CgroupLimits): Record<string, unknown>;
  /**
   * Makes `dev`'s disk I/O limits in the group exactly `io` (undefined or {}: unlimited), live:
   * v1 blkio.throttle.*, v2 io.max (cgroups/io-limits.ts).
   */
  setIoLimits(cgroupPath: string, dev: BlockDevice, io: IoLimits | undefined): Promise<void>;
}
