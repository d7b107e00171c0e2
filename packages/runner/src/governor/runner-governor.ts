// Starts the CPU governor for one runner: its environments are the handles under the runner's
// state root (a stopped one has no cgroup and drops out at the read), the host's usage comes from
// /proc/stat, and failures go to stderr as JSON lines, each distinct message once a minute so a
// broken group cannot flood the log every tick.
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { RunnerConfig } from "../host/config.ts";
import { hostNames, ID_RE } from "../host/names.ts";
import { parseProcStat } from "../metrics/host-usage.ts";
import { readHandle } from "../state/handle.ts";
import { CpuGovernor, type CpuGovernorOptions, type GovernedEnv } from "./loop.ts";
import { type GovernorSettings, governorSettings } from "./settings.ts";

/** /proc/stat reports in USER_HZ, which the kernel fixes at 100 for user space on every architecture. */
const USER_HZ = 100;

export function procStatBusySeconds(read: () => string): () => number {
  return () => parseProcStat(read()).busy / USER_HZ;
}

export async function listGovernedEnvs(cfg: RunnerConfig): Promise<GovernedEnv[]> {
  const ids = (await readdir(path.join(cfg.root, "envs")).catch(() => [] as string[])).filter((id) =>
    ID_RE.test(id),
  );
  const out: GovernedEnv[] = [];
  for (const id of ids) {
    const names = hostNames(cfg, id);
    // A handle being rewritten or removed right now is simply not governed this tick.
    const handle = await readHandle(names.handleFile).catch(() => null);
    if (!handle) continue;
    const { cpus } = handle.spec.resources;
    // The class's own burst when it set one (an older handle has none): else the runner's factor.
    // Anything else there reaches the loop, which reports it and leaves that environment alone.
    const burst = handle.spec.cpuBurst;
    out.push({
      id,
      cpus,
      ...(burst !== undefined && burst !== null ? { burstCpus: burst } : {}),
      cgroupPath: names.cgroupPath,
    });
  }
  return out;
}

export function logOncePerMinute(now: () => number = Date.now): CpuGovernorOptions["onError"] {
  const last = new Map<string, number>();
  return (err, envId) => {
    const msg = `cpu governor: ${err instanceof Error ? err.message : String(err)}`;
    const t = now();
    if ((last.get(msg) ?? -Infinity) > t - 60_000) return;
    last.set(msg, t);
    process.stderr.write(
      `${JSON.stringify({ time: new Date(t).toISOString(), msg, ...(envId ? { envId } : {}) })}\n`,
    );
  };
}

export interface StartGovernorOptions {
  cfg: RunnerConfig;
  cgroups: Pick<CgroupDriver, "mode" | "paths">;
  hostCores: number;
  /** Defaults to governorSettings(hostCores, cfg.governor) (the WARREN_GOVERNOR* knobs). */
  settings?: GovernorSettings;
  readProcStat: () => string;
  hostBusySeconds?: () => number;
}

/** The running governor, or undefined when it is switched off. */
export function startCpuGovernor(o: StartGovernorOptions): CpuGovernor | undefined {
  const settings = o.settings ?? governorSettings(o.hostCores, o.cfg.governor);
  if (!settings.enabled) return undefined;
  return new CpuGovernor({
    cgroups: o.cgroups,
    settings,
    hostCores: o.hostCores,
    listEnvs: () => listGovernedEnvs(o.cfg),
    hostBusySeconds: o.hostBusySeconds ?? procStatBusySeconds(o.readProcStat),
    onError: logOncePerMinute(),
  }).start();
}
