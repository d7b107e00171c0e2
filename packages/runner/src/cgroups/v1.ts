// Driver for cgroup v1, alone or hybrid (v1 controllers plus a cgroup2 mount without
// controllers). The OCI runtime creates the per-controller groups from linux.resources at
// container create; this driver changes limits live, reads usage, and cleans up. In hybrid mode
// each environment also gets a group under the cgroup2 mount, which still provides per-group
// PSI, cgroup.kill and cgroup.freeze even with no controllers enabled there.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type IoLimits, wrap } from "@warren/protocol";
import {
  childGroups,
  dropCfsBurst,
  errnoOf,
  killUntilEmpty,
  parseKeyValues,
  readNumber,
  readOptional,
  removeGroupTree,
  UNLIMITED,
  withDescendants,
  writeValue,
} from "./fs.ts";
import { type BlockDevice, v1ThrottleWrites } from "./io-limits.ts";
import { checkCgroupPath, memoryBelowUsage } from "./limit-errors.ts";
import { CPU_PERIOD_US, cpuQuotaUs, ociResources, validateLimits } from "./oci.ts";
import { readPsiAvg10 } from "./psi.ts";
import type { CgroupDriver, CgroupLimits, CgroupUsage, PsiAvg10 } from "./types.ts";

export interface CgroupV1Options {
  /** Mount directory of each v1 hierarchy, by controller (or name= hierarchy) name. */
  hierarchies: Record<string, string>;
  /** The cgroup2 mount in hybrid mode; null on pure v1. */
  unifiedRoot: string | null;
}

export const DEFAULT_V1_HIERARCHIES: Record<string, string> = Object.fromEntries(
  ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio", "systemd"].map((c) => [
    c,
    `/sys/fs/cgroup/${c}`,
  ]),
);

const limitText = (n: number) => (n >= UNLIMITED ? "-1" : String(n));

export class CgroupV1Driver implements CgroupDriver {
  readonly mode = "v1" as const;
  readonly hierarchies: Record<string, string>;
  readonly unifiedRoot: string | null;

  constructor(
    opts: CgroupV1Options = { hierarchies: DEFAULT_V1_HIERARCHIES, unifiedRoot: "/sys/fs/cgroup/unified" },
  ) {
    this.hierarchies = opts.hierarchies;
    this.unifiedRoot = opts.unifiedRoot;
  }

  paths(cgroupPath: string): Record<string, string> {
    checkCgroupPath(cgroupPath);
    const out: Record<string, string> = {};
    for (const [ctrl, mount] of Object.entries(this.hierarchies)) out[ctrl] = path.join(mount, cgroupPath);
    if (this.unifiedRoot) out["unified"] = path.join(this.unifiedRoot, cgroupPath);
    return out;
  }

  /** One directory per mounted hierarchy (co-mounted controllers such as cpu,cpuacct share one). */
  private uniqueDirs(cgroupPath: string): string[] {
    return [...new Set(Object.values(this.paths(cgroupPath)))];
  }

  private dir(ctrl: string, cgroupPath: string): string {
    const dir = this.paths(cgroupPath)[ctrl];
    if (!dir) throw new Error(`cgroup v1 controller ${ctrl} is not mounted on this host`);
    return dir;
  }

  async attachPsi(cgroupPath: string, pid: number): Promise<void> {
    if (!this.unifiedRoot) return; // pure v1 has no PSI per group
    const dir = path.join(this.unifiedRoot, cgroupPath);
    try {
      await mkdir(dir, { recursive: true });
      // Writing a pid that is already a member is a no-op, which makes this idempotent.
      await writeValue(path.join(dir, "cgroup.procs"), pid);
    } catch (err) {
      throw wrap(`attach pid ${pid} to PSI group ${dir}`, err);
    }
  }

  async setLimits(cgroupPath: string, limits: CgroupLimits): Promise<void> {
    validateLimits(limits);
    const cpu = this.dir("cpu", cgroupPath);
    try {
      await writeValue(path.join(cpu, "cpu.cfs_period_us"), CPU_PERIOD_US);
      await dropCfsBurst(path.join(cpu, "cpu.cfs_burst_us"));
      await writeValue(path.join(cpu, "cpu.cfs_quota_us"), cpuQuotaUs(limits.cpus));
    } catch (err) {
      throw wrap("set cpu limit", err);
    }
    await this.setMemory(this.dir("memory", cgroupPath), limits.memoryBytes);
    if (this.hierarchies["pids"]) {
      const file = path.join(this.dir("pids", cgroupPath), "pids.max");
      await writeValue(file, limits.pids > 0 ? limits.pids : "max").catch((err) => {
        throw wrap("set pids limit", err);
      });
    }
  }

  /**
   * memsw (memory+swap) must never be below the memory limit, so it goes up first when raising
   * and down last when lowering. Any failure puts back what was already changed.
   */
  private async setMemory(dir: string, bytes: number): Promise<void> {
    const limitFile = path.join(dir, "memory.limit_in_bytes");
    const memswFile = path.join(dir, "memory.memsw.limit_in_bytes");
    let oldLimit: number;
    let oldMemsw: number | null;
    try {
      oldLimit = await readNumber(limitFile);
      oldMemsw = (await readOptional(memswFile)) === null ? null : await readNumber(memswFile);
    } catch (err) {
      throw wrap("set memory limit", err);
    }
    const writeLimit = async () => {
      try {
        await writeValue(limitFile, bytes);
      } catch (err) {
        if (errnoOf(err) === "EBUSY") {
          const usage = await readNumber(path.join(dir, "memory.usage_in_bytes")).catch(() => oldLimit);
          throw memoryBelowUsage(bytes, usage, oldLimit);
        }
        throw wrap("set memory limit", err);
      }
    };
    const writeMemsw = async () => {
      try {
        await writeValue(memswFile, bytes);
      } catch (err) {
        if (errnoOf(err) === "EBUSY") {
          const usage = await readNumber(path.join(dir, "memory.memsw.usage_in_bytes")).catch(() => oldLimit);
          throw memoryBelowUsage(bytes, usage, oldLimit);
        }
        throw wrap("set memory+swap limit", err);
      }
    };
    if (oldMemsw === null) return writeLimit(); // kernel without swap accounting

    if (bytes >= oldLimit) {
      await writeMemsw();
      try {
        await writeLimit();
      } catch (err) {
        await writeValue(memswFile, limitText(oldMemsw)).catch(() => {});
        throw err;
      }
    } else {
      await writeLimit();
      try {
        await writeMemsw();
      } catch (err) {
        await writeValue(limitFile, limitText(oldLimit)).catch(() => {});
        throw err;
      }
    }
  }

  async usage(cgroupPath: string): Promise<CgroupUsage> {
    try {
      const mem = this.dir("memory", cgroupPath);
      const pidsDir = this.hierarchies["pids"] ? this.dir("pids", cgroupPath) : null;
      const [cpuNs, memBytes, limit, statText, oomText, pids, pidsLimit] = await Promise.all([
        readNumber(path.join(this.dir("cpuacct", cgroupPath), "cpuacct.usage")),
        readNumber(path.join(mem, "memory.usage_in_bytes")),
        readNumber(path.join(mem, "memory.limit_in_bytes")),
        readOptional(path.join(mem, "memory.stat")),
        readOptional(path.join(mem, "memory.oom_control")),
        pidsDir ? readNumber(path.join(pidsDir, "pids.current")) : 0,
        pidsDir ? readNumber(path.join(pidsDir, "pids.max")) : UNLIMITED,
      ]);
      const stat = parseKeyValues(statText ?? "");
      // Like cAdvisor/kubelet: working set is usage minus page cache the kernel can drop.
      const inactive = stat.get("total_inactive_file") ?? stat.get("inactive_file") ?? 0;
      return {
        cpuUsageNs: cpuNs,
        memoryBytes: memBytes,
        memoryWorkingSetBytes: Math.max(0, memBytes - inactive),
        memoryLimitBytes: limit,
        pids,
        pidsLimit,
        oomKills: parseKeyValues(oomText ?? "").get("oom_kill") ?? 0,
      };
    } catch (err) {
      throw wrap(`read cgroup usage of ${cgroupPath}`, err);
    }
  }

  async psi(cgroupPath: string): Promise<PsiAvg10> {
    if (!this.unifiedRoot) return { cpu: null, memory: null, io: null };
    return readPsiAvg10(path.join(this.unifiedRoot, cgroupPath), readOptional);
  }

  async killAll(cgroupPath: string): Promise<void> {
    const paths = this.paths(cgroupPath);
    try {
      // A frozen v1 task cannot die until thawed.
      if (paths["freezer"]) {
        const state = await readOptional(path.join(paths["freezer"], "freezer.state"));
        if (state !== null && state.trim() !== "THAWED") {
          await writeValue(path.join(paths["freezer"], "freezer.state"), "THAWED");
        }
      }
      if (paths["unified"]) {
        // Processes started later by `runc exec` may not be in the unified group, so this is a
        // fast first pass and the per-pid loop below catches the rest.
        await writeValue(path.join(paths["unified"], "cgroup.kill"), "1").catch((err) => {
          if (errnoOf(err) !== "ENOENT") throw err;
        });
      }
      await killUntilEmpty(await withDescendants(this.uniqueDirs(cgroupPath)));
    } catch (err) {
      throw wrap(`kill processes in ${cgroupPath}`, err);
    }
  }

  async remove(cgroupPath: string): Promise<void> {
    for (const dir of this.uniqueDirs(cgroupPath)) {
      await removeGroupTree(dir).catch((err) => {
        throw wrap(`remove cgroup ${dir}`, err);
      });
    }
  }

  async listUnder(prefix: string): Promise<string[]> {
    const parent = `/${prefix.replace(/^\/+/, "")}`;
    checkCgroupPath(parent);
    const names = new Set<string>();
    // Every hierarchy, not just memory: a half-made environment may exist in only some of them.
    for (const dir of this.uniqueDirs(parent)) for (const n of await childGroups(dir)) names.add(n);
    return [...names].sort();
  }

  ociResources(limits: CgroupLimits): Record<string, unknown> {
    return ociResources(limits);
  }

  async setIoLimits(cgroupPath: string, dev: BlockDevice, io: IoLimits | undefined): Promise<void> {
    const dir = this.dir("blkio", cgroupPath);
    for (const [file, line] of v1ThrottleWrites(dev, io)) {
      await writeValue(path.join(dir, file), line).catch((err) => {
        throw wrap(`set disk I/O limit ${file}`, err);
      });
    }
  }
}
