// `warren stats` figures for one running environment, read from its cgroups, its PSI group and
// its disk. CPU use is a rate, so it needs two cpuacct samples: the meter keeps each
// environment's last sample, so a repeated `stats` (--watch every 2 s) answers at once, and only
// a first call waits one sample window.
import { statfs } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { type EnvStats, WarrenError } from "@warren/protocol";
import { UNLIMITED } from "../cgroups/fs.ts";
import type { CgroupUsage } from "../cgroups/types.ts";
import { cpuGovernorView } from "../governor/view.ts";
import { hostNames } from "../host/names.ts";
import { envCounters } from "../metrics/env-counters.ts";
import { readHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";

/** Shorter windows make the rate noisy (CFS accounts in ticks); longer ones make stats slow. */
export const CPU_WINDOW_MS = 1000;
const MIN_WINDOW_MS = 500;
/**
 * An older sample would average over so long that the figure no longer says "now" (a one-off
 * `warren stats` a minute after the last would show a minute's mean); --watch (2 s) stays inside.
 */
const MAX_WINDOW_MS = 3_000;

export class CpuMeter {
  readonly #last = new Map<string, { ns: number; ms: number }>();

  /** Cores used since the kept sample, or null (and this sample kept) when there is no usable one. */
  rate(id: string, ns: number, ms: number): number | null {
    const prev = this.#last.get(id);
    const dt = prev ? ms - prev.ms : Number.NaN;
    // Too recent: keep the older sample so the next call measures over a real window.
    if (prev && dt < MIN_WINDOW_MS && ns >= prev.ns) return null;
    this.#last.set(id, { ns, ms });
    // cpuacct restarts from zero when the environment is restarted (a new cgroup).
    if (!prev || dt > MAX_WINDOW_MS || ns < prev.ns) return null;
    return (ns - prev.ns) / (dt * 1e6);
  }

  forget(id: string): void {
    this.#last.delete(id);
  }
}

export async function envStats(ctx: EngineContext, meter: CpuMeter, id: string): Promise<EnvStats> {
  const names = hostNames(ctx.cfg, id);
  const handle = await readHandle(names.handleFile);
  const rt = handle ? ctx.runtimes.get(handle.spec.runtime) : undefined;
  const st = rt ? await rt.state(names.containerId) : null;
  if (!handle || st?.status !== "running") {
    throw new WarrenError(
      "ENV_NOT_RUNNING",
      "the environment is not running; start it with `warren start NAME`",
    );
  }
  let usage: CgroupUsage = await ctx.cgroups.usage(names.cgroupPath);
  let cores = meter.rate(id, usage.cpuUsageNs, performance.now());
  if (cores === null) {
    await sleep(CPU_WINDOW_MS);
    usage = await ctx.cgroups.usage(names.cgroupPath);
    cores = meter.rate(id, usage.cpuUsageNs, performance.now()) ?? 0;
  }
  const [psi, fs, counters, cpuGovernor] = await Promise.all([
    ctx.cgroups.psi(names.cgroupPath).catch(() => ({ cpu: null, memory: null, io: null })),
    statfs(names.diskMount).catch(() => null),
    envCounters(ctx.cgroups, names.cgroupPath, id),
    cpuGovernorView(ctx.cgroups, ctx.governor, id, names.cgroupPath, handle.spec.resources.cpus),
  ]);
  return {
    id,
    name: handle.spec.name,
    cpuCores: Math.round(cores * 1000) / 1000,
    memoryWorkingSetBytes: usage.memoryWorkingSetBytes,
    memoryLimitBytes: usage.memoryLimitBytes,
    pids: usage.pids,
    // 0 means "no limit" on the wire, like the spec's pids field.
    pidsLimit: usage.pidsLimit >= UNLIMITED ? 0 : usage.pidsLimit,
    // Blocks in use in the environment's own ext4: what counts against its quota, unlike the
    // host's view of the sparse image file.
    diskUsedBytes: fs ? (fs.blocks - fs.bfree) * fs.bsize : 0,
    diskQuotaBytes: handle.spec.resources.diskBytes,
    psi,
    oomKills: usage.oomKills,
    at: new Date().toISOString(),
    // Raw counters for Prometheus (server metrics/): rate() over them beats a runner-side rate.
    cpuSecondsTotal: usage.cpuUsageNs / 1e9,
    ...counters,
    ...(cpuGovernor ? { cpuGovernor } : {}),
  };
}
