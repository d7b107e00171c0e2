// Measured CPU for usage reports: every interval, each open 'run' interval's environment is asked
// for its stats, and the CPU used since the last sample is added to the interval: the difference
// of the runner's CPU-time counter when there is a previous reading of it (kept in memory; it
// resets when the environment restarts), else the cores it reports (averaged over its sample
// window) times the time since the last sample. This is an estimate, shown beside the allocation
// and never billed: a runner is untrusted, so what it reports is clamped to what the environment
// was allocated over that time (its CPU quota caps real use there anyway), and without a counter a
// long gap between samples (a control plane that was down) is not extrapolated past two periods.
import { type EnvStats, isWarrenError, type RunnerApi } from "@warren/protocol";
import type { Clock, TimerHandle } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { Db } from "../../store/db.ts";
import { addMeasuredCpu, type OpenRun, openRunIntervals } from "../../store/queries/usage.ts";

export interface UsageSamplerOptions {
  db: Db;
  runner: Pick<RunnerApi, "stats">;
  clock: Clock;
  logger: Logger;
  /** How often a pass runs; default 30 s. */
  intervalMs?: number;
  /** Server mode: only the replica holding an environment's runner samples it. */
  ownership?: (envId: string) => Promise<"mine" | "elsewhere" | "none">;
}

export interface UsageSampler {
  start(): void;
  /** One pass (exposed for tests); returns how many intervals got a sample. */
  pass(): Promise<number>;
  close(): Promise<void>;
}

const PARALLEL = 16;

export interface CpuReading {
  /** Cores in use, averaged over the runner's sample window. */
  cores: number;
  /** The runner's CPU-time counter for the environment, seconds, and our previous reading of it. */
  total?: number | undefined;
  previousTotal?: number | undefined;
}

const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;

/** CPU milliseconds to add for one sample, never more than the allocation over the time it covers. */
export function measuredIncrement(
  run: Pick<OpenRun, "cpus" | "startedMs" | "measuredAtMs">,
  reading: CpuReading,
  nowMs: number,
  periodMs: number,
): number {
  const elapsed = Math.max(0, nowMs - (run.measuredAtMs ?? run.startedMs));
  const { total, previousTotal } = reading;
  if (finite(total) && finite(previousTotal)) {
    // A counter below the last reading restarted from zero (a new cgroup): all of it is new.
    const used = (total >= previousTotal ? total - previousTotal : total) * 1000;
    return Math.min(used, run.cpus * elapsed);
  }
  if (!finite(reading.cores)) return 0;
  return Math.min(reading.cores, run.cpus) * Math.min(elapsed, 2 * periodMs);
}

export function createUsageSampler(o: UsageSamplerOptions): UsageSampler {
  const intervalMs = o.intervalMs ?? 30_000;
  let timer: TimerHandle | undefined;
  let running: Promise<number> | undefined;
  let closed = false;

  const lastTotal = new Map<string, number>();

  async function sample(run: OpenRun): Promise<boolean> {
    if (o.ownership && (await o.ownership(run.envId)) === "elsewhere") return false;
    let stats: EnvStats;
    try {
      stats = await o.runner.stats(run.envId);
    } catch (err) {
      if (!isWarrenError(err, "ENV_NOT_RUNNING"))
        o.logger.debug({ envId: run.envId, err }, "usage: no stats this pass");
      return false;
    }
    const now = o.clock.now();
    const total = finite(stats.cpuSecondsTotal) ? stats.cpuSecondsTotal : undefined;
    const reading = { cores: stats.cpuCores, total, previousTotal: lastTotal.get(run.envId) };
    if (total === undefined) lastTotal.delete(run.envId);
    else lastTotal.set(run.envId, total);
    await addMeasuredCpu(o.db, run.id, measuredIncrement(run, reading, now, intervalMs), now);
    return true;
  }

  async function pass(): Promise<number> {
    const runs = await openRunIntervals(o.db);
    // Forget counters of environments that no longer run.
    const open = new Set(runs.map((r) => r.envId));
    for (const id of lastTotal.keys()) if (!open.has(id)) lastTotal.delete(id);
    let sampled = 0;
    for (let i = 0; i < runs.length && !closed; i += PARALLEL) {
      const done = await Promise.all(runs.slice(i, i + PARALLEL).map(sample));
      sampled += done.filter(Boolean).length;
    }
    return sampled;
  }

  function tick(): void {
    if (closed) return;
    timer = o.clock.setTimeout(() => {
      timer = undefined;
      running = pass().catch((err: unknown) => {
        o.logger.warn({ err }, "usage sampling pass failed");
        return 0;
      });
      void running.finally(tick);
    }, intervalMs);
  }

  return {
    start: tick,
    pass,
    async close() {
      closed = true;
      if (timer) o.clock.clearTimeout(timer);
      await running;
    },
  };
}
