// Cgroups for a gVisor sandbox. runsc runs as the environment's unprivileged uid (see
// warren-runsc.c), so it cannot write the host's cgroup files and runs --ignore-cgroups.
// The driver, still host root, makes the groups and writes the limits; warren-runsc joins
// them before it drops to that uid. The Sentry and gofer are then inside the limits and
// cannot change them (the files stay owned by host root).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { cgroupDriver } from "../cgroups/detect.ts";
import type { CgroupDriver, CgroupLimits } from "../cgroups/types.ts";

/** A new v1 cpuset group has no cpus or mems, and joining it fails until they are copied down. */
async function fillCpuset(dir: string, mount: string): Promise<void> {
  const chain: string[] = [];
  for (let d = dir; d !== mount && d.startsWith(mount); d = path.dirname(d)) chain.unshift(d);
  for (const d of chain) {
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      const own = (await readFile(path.join(d, f), "utf8")).trim();
      if (own) continue;
      const parent = (await readFile(path.join(path.dirname(d), f), "utf8")).trim();
      await writeFile(path.join(d, f), parent);
    }
  }
}

/** v2: a child only gets controllers its parents enable for their subtree. */
async function enableV2Controllers(dir: string, mount: string): Promise<void> {
  const parents: string[] = [];
  for (let d = path.dirname(dir); d.startsWith(mount); d = path.dirname(d)) {
    parents.unshift(d);
    if (d === mount) break;
  }
  for (const d of parents) {
    await writeFile(path.join(d, "cgroup.subtree_control"), "+cpu +memory +pids").catch(() => undefined);
  }
}

export class GvisorCgroups {
  readonly #driver: () => CgroupDriver;
  #cached: CgroupDriver | undefined;

  constructor(driver?: CgroupDriver) {
    this.#cached = driver;
    this.#driver = () => {
      this.#cached ??= cgroupDriver();
      return this.#cached;
    };
  }

  /** Makes the groups, writes the limits; returns the directories warren-runsc joins. */
  async prepare(cgroupsPath: string, limits: CgroupLimits | undefined): Promise<string[]> {
    const drv = this.#driver();
    const byCtrl = drv.paths(cgroupsPath);
    const dirs = [...new Set(Object.values(byCtrl))];
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    if (drv.mode === "v1" && byCtrl["cpuset"]) {
      await fillCpuset(byCtrl["cpuset"], byCtrl["cpuset"].slice(0, -cgroupsPath.length));
    }
    if (drv.mode === "v2") {
      const dir = byCtrl["unified"]!;
      await enableV2Controllers(dir, dir.slice(0, -cgroupsPath.length));
    }
    if (limits) await drv.setLimits(cgroupsPath, limits);
    return dirs;
  }

  async remove(cgroupsPath: string): Promise<void> {
    const drv = this.#driver();
    await drv.killAll(cgroupsPath).catch(() => undefined);
    await drv.remove(cgroupsPath);
  }
}
