// The hard disk floor's loop (disk-guard-plan.ts decides): every few seconds it reads free space
// on the filesystem holding the environment disks and how much each disk image occupies, and
// freezes the largest writer (v1 freezer.state, v2 cgroup.freeze) or resumes what it froze. A
// marker in the environment's directory remembers what this guard froze, so a restarted runner
// resumes it too, and never thaws a group someone else froze. Stopping a frozen environment
// works as always (the driver's killAll thaws first).
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatSize } from "@warren/protocol";
import { errnoOf, writeValue } from "../cgroups/fs.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { RunnerConfig } from "../host/config.ts";
import { hostNames } from "../host/names.ts";
import { appendEvent, logLimits } from "../logs/env-log.ts";
import { diskFloorBytes, diskSpace } from "./admission.ts";
import { type DiskGuardEnv, hardFloorBytes, planDiskGuard } from "./disk-guard-plan.ts";

const ID_RE = /^[a-z0-9]{1,64}$/;
const MARK = "frozen-for-disk";
export const DISK_GUARD_MS = 5_000;

export interface DiskGuardOptions {
  everyMs?: number;
  /** Free and total bytes of the environments' filesystem; tests inject a nearly full one. */
  space?: () => { freeBytes: number; totalBytes: number };
}

/** Freezes or thaws every process of the group: v1 freezer when mounted, else cgroup.freeze. */
export async function setFrozen(
  cgroups: Pick<CgroupDriver, "paths">,
  cgroupPath: string,
  frozen: boolean,
): Promise<void> {
  const p = cgroups.paths(cgroupPath);
  if (p["freezer"]) await writeValue(path.join(p["freezer"], "freezer.state"), frozen ? "FROZEN" : "THAWED");
  else if (p["unified"]) await writeValue(path.join(p["unified"], "cgroup.freeze"), frozen ? "1" : "0");
  else throw new Error("no freezer: neither the v1 freezer nor cgroup v2 is mounted");
}

export class DiskGuard {
  readonly #cfg: RunnerConfig;
  readonly #cgroups: Pick<CgroupDriver, "paths">;
  readonly #space: () => { freeBytes: number; totalBytes: number };
  readonly #everyMs: number;
  readonly #previous = new Map<string, number>();

  constructor(cfg: RunnerConfig, cgroups: Pick<CgroupDriver, "paths">, o: DiskGuardOptions = {}) {
    this.#cfg = cfg;
    this.#cgroups = cgroups;
    this.#space = o.space ?? (() => diskSpace(cfg));
    this.#everyMs = o.everyMs ?? DISK_GUARD_MS;
  }

  /** One sample: read, plan, act. Returns what it did. */
  async pass(): Promise<ReturnType<typeof planDiskGuard>> {
    const cfg = this.#cfg;
    const { freeBytes, totalBytes } = this.#space();
    const resumeBytes = diskFloorBytes(cfg, totalBytes);
    const floor = hardFloorBytes({
      ...(cfg.diskHardFloorBytes !== undefined ? { knob: cfg.diskHardFloorBytes } : {}),
      totalBytes,
      softFloorBytes: resumeBytes,
    });
    const ids = (await readdir(path.join(cfg.root, "envs")).catch(() => [] as string[])).filter((id) =>
      ID_RE.test(id),
    );
    const envs: DiskGuardEnv[] = [];
    for (const id of ids) {
      const names = hostNames(cfg, id);
      const s = await stat(names.diskImage).catch(() => null);
      if (!s) continue;
      const frozenByGuard = (await stat(path.join(names.envDir, MARK)).catch(() => null)) !== null;
      const prev = this.#previous.get(id);
      envs.push({
        id,
        usedBytes: s.blocks * 512,
        frozenByGuard,
        ...(prev !== undefined ? { previousUsedBytes: prev } : {}),
      });
      this.#previous.set(id, s.blocks * 512);
    }
    for (const id of this.#previous.keys()) if (!ids.includes(id)) this.#previous.delete(id);
    const actions = planDiskGuard({ freeBytes, hardFloorBytes: floor, resumeBytes, envs });
    const limits = logLimits(cfg);
    for (const a of actions) {
      const names = hostNames(cfg, a.id);
      if (a.kind === "freeze") {
        // The marker first: a crash between the two still resumes it later.
        await writeFile(path.join(names.envDir, MARK), `${new Date().toISOString()}\n`);
        await setFrozen(this.#cgroups, names.cgroupPath, true);
        await appendEvent(
          names.logFile,
          `frozen: the host's disk is nearly full (${formatSize(freeBytes)} free, below the hard floor of ` +
            `${formatSize(floor)}) and this environment wrote the most (${formatSize(a.wroteBytes)} in the last ` +
            `${Math.round(this.#everyMs / 1000)} s); its processes are paused, not killed, and resume once ` +
            `${formatSize(resumeBytes)} is free again. Free space on the host or remove environments (\`warren rm\`).`,
          limits,
        );
      } else {
        await setFrozen(this.#cgroups, names.cgroupPath, false).catch((err) => {
          // Stopped meanwhile: its groups are gone and nothing is left to resume.
          if (errnoOf(err) !== "ENOENT") throw err;
        });
        await rm(path.join(names.envDir, MARK), { force: true });
        await appendEvent(
          names.logFile,
          `resumed: the host's disk has ${formatSize(freeBytes)} free again (at least ${formatSize(resumeBytes)})`,
          limits,
        );
      }
    }
    return actions;
  }

  /** Samples every everyMs (unref'd; a slow pass never overlaps the next). Returns the stop. */
  start(): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.pass()
        .catch(() => undefined)
        .finally(() => {
          running = false;
        });
    }, this.#everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
