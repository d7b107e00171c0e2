// Driver for a pure cgroup v2 host (the unified hierarchy at `root`, default /sys/fs/cgroup).
// The OCI runtime creates the group and enables controllers from linux.resources; this driver
// changes limits live, reads usage, and cleans up.
// NOT YET VERIFIED ON A REAL v2 HOST: the hosts here are v1 hybrid, so this driver is tested
// only against a directory laid out like cgroupfs (test/cgroups-v2.test.ts).
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type IoLimits, isWarrenError, wrap } from "@warren/protocol";
import {
  childGroups,
  dropCfsBurst,
  errnoOf,
  killUntilEmpty,
  parseKeyValues,
  parseLimit,
  readNumber,
  readOptional,
  removeGroupTree,
  UNLIMITED,
  withDescendants,
  writeValue,
} from "./fs.ts";
import { type BlockDevice, v2IoMaxLine } from "./io-limits.ts";
import { checkCgroupPath, memoryBelowUsage } from "./limit-errors.ts";
import { CPU_PERIOD_US, cpuQuotaUs, ociResources, validateLimits } from "./oci.ts";
import { readPsiAvg10 } from "./psi.ts";
import type { CgroupDriver, CgroupLimits, CgroupUsage, PsiAvg10 } from "./types.ts";

export interface CgroupV2Options {
  /** Mount point of the unified hierarchy. */
  root: string;
}

export class CgroupV2Driver implements CgroupDriver {
  readonly mode = "v2" as const;
  readonly root: string;

  constructor(opts: CgroupV2Options = { root: "/sys/fs/cgroup" }) {
    this.root = opts.root;
  }

  paths(cgroupPath: string): Record<string, string> {
    checkCgroupPath(cgroupPath);
    return { unified: path.join(this.root, cgroupPath) };
  }

  private dir(cgroupPath: string): string {
    return this.paths(cgroupPath)["unified"]!;
  }

  async attachPsi(cgroupPath: string, pid: number): Promise<void> {
    const dir = this.dir(cgroupPath);
    try {
      await mkdir(dir, { recursive: true });
      await writeValue(path.join(dir, "cgroup.procs"), pid);
    } catch (err) {
      throw wrap(`attach pid ${pid} to cgroup ${dir}`, err);
    }
  }

  async setLimits(cgroupPath: string, limits: CgroupLimits): Promise<void> {
    validateLimits(limits);
    const dir = this.dir(cgroupPath);
    try {
      await dropCfsBurst(path.join(dir, "cpu.max.burst"));
      await writeValue(path.join(dir, "cpu.max"), `${cpuQuotaUs(limits.cpus)} ${CPU_PERIOD_US}`);
    } catch (err) {
      throw wrap("set cpu limit", err);
    }
    await this.setMemory(dir, limits.memoryBytes);
    try {
      await writeValue(path.join(dir, "pids.max"), limits.pids > 0 ? limits.pids : "max");
    } catch (err) {
      throw wrap("set pids limit", err);
    }
  }

  /**
   * v2 accepts a memory.max below usage and then reclaims and OOM-kills. Refuse instead, as v1
   * does, so lowering a limit never kills a user's processes.
   */
  private async setMemory(dir: string, bytes: number): Promise<void> {
    try {
      const oldMax = await readNumber(path.join(dir, "memory.max"));
      if (bytes < oldMax) {
        const current = await readNumber(path.join(dir, "memory.current"));
        const stat = parseKeyValues((await readOptional(path.join(dir, "memory.stat"))) ?? "");
        const workingSet = Math.max(0, current - (stat.get("inactive_file") ?? 0));
        if (bytes < workingSet) throw memoryBelowUsage(bytes, workingSet, oldMax);
      }
      await writeValue(path.join(dir, "memory.max"), bytes);
    } catch (err) {
      if (isWarrenError(err)) throw err;
      throw wrap("set memory limit", err);
    }
    try {
      await writeValue(path.join(dir, "memory.swap.max"), 0);
    } catch (err) {
      // No swap accounting (swapaccount=0 or no swap support): nothing can swap anyway.
      if (errnoOf(err) !== "ENOENT") throw wrap("set swap limit", err);
    }
  }

  async usage(cgroupPath: string): Promise<CgroupUsage> {
    const dir = this.dir(cgroupPath);
    const file = (name: string) => path.join(dir, name);
    try {
      const [cpuStat, current, max, memStat, events, pids, pidsMax] = await Promise.all([
        readOptional(file("cpu.stat")),
        readNumber(file("memory.current")),
        readNumber(file("memory.max")),
        readOptional(file("memory.stat")),
        readOptional(file("memory.events")),
        readOptional(file("pids.current")),
        readOptional(file("pids.max")),
      ]);
      const inactive = parseKeyValues(memStat ?? "").get("inactive_file") ?? 0;
      return {
        cpuUsageNs: (parseKeyValues(cpuStat ?? "").get("usage_usec") ?? 0) * 1000,
        memoryBytes: current,
        memoryWorkingSetBytes: Math.max(0, current - inactive),
        memoryLimitBytes: max,
        pids: pids === null ? 0 : Number(pids.trim()),
        pidsLimit: pidsMax === null ? UNLIMITED : parseLimit(pidsMax),
        oomKills: parseKeyValues(events ?? "").get("oom_kill") ?? 0,
      };
    } catch (err) {
      throw wrap(`read cgroup usage of ${cgroupPath}`, err);
    }
  }

  psi(cgroupPath: string): Promise<PsiAvg10> {
    return readPsiAvg10(this.dir(cgroupPath), readOptional);
  }

  async killAll(cgroupPath: string): Promise<void> {
    const dir = this.dir(cgroupPath);
    try {
      // cgroup.kill (5.14+) kills the whole subtree atomically, racing no forks.
      await writeValue(path.join(dir, "cgroup.kill"), "1").catch((err) => {
        if (errnoOf(err) !== "ENOENT") throw err;
      });
      await killUntilEmpty(await withDescendants([dir]));
    } catch (err) {
      throw wrap(`kill processes in ${cgroupPath}`, err);
    }
  }

  async remove(cgroupPath: string): Promise<void> {
    const dir = this.dir(cgroupPath);
    await removeGroupTree(dir).catch((err) => {
      throw wrap(`remove cgroup ${dir}`, err);
    });
  }

  async listUnder(prefix: string): Promise<string[]> {
    const parent = `/${prefix.replace(/^\/+/, "")}`;
    return (await childGroups(this.dir(parent))).sort();
  }

  ociResources(limits: CgroupLimits): Record<string, unknown> {
    return ociResources(limits);
  }

  async setIoLimits(cgroupPath: string, dev: BlockDevice, io: IoLimits | undefined): Promise<void> {
    await writeValue(path.join(this.dir(cgroupPath), "io.max"), v2IoMaxLine(dev, io)).catch((err) => {
      throw wrap("set disk I/O limit io.max", err);
    });
  }
}
