// The host's live usage for placement: CPU in use as an exponentially weighted moving average
// of /proc/stat deltas (sampled every few seconds, weighted so a sample a minute old counts
// about 1/e), and memory working set = MemTotal - MemAvailable. The scheduler packs by these
// rather than by what environments asked for, so they must follow real use, not spikes: one
// compile burst moves the average a little, a sustained one moves it fully within minutes.
import { readFileSync } from "node:fs";

/** Aggregate CPU time counters from /proc/stat's `cpu` line, in clock ticks. */
export interface CpuTimes {
  busy: number;
  total: number;
}

export function parseProcStat(text: string): CpuTimes {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error("/proc/stat has no aggregate cpu line");
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice).
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n)))
    throw new Error(`cannot parse ${JSON.stringify(line)}`);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
}

export function parseMeminfo(text: string): MemInfo {
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { totalBytes: kib("MemTotal"), availableBytes: kib("MemAvailable") };
}

/** Time-aware EWMA: a sample after `dtMs` weighs 1 - exp(-dtMs / tauMs), so irregular ticks average right. */
export class Ewma {
  #value: number | undefined;
  readonly tauMs: number;
  constructor(tauMs: number) {
    this.tauMs = tauMs;
  }
  add(sample: number, dtMs: number): number {
    if (this.#value === undefined) this.#value = sample;
    else {
      const alpha = 1 - Math.exp(-Math.max(0, dtMs) / this.tauMs);
      this.#value += alpha * (sample - this.#value);
    }
    return this.#value;
  }
  get value(): number | undefined {
    return this.#value;
  }
}

export interface HostUsageOptions {
  cpus: number;
  /** Sampling period; default 5 s. */
  intervalMs?: number;
  /** EWMA time constant; default 60 s. */
  tauMs?: number;
  readStat?: () => string;
  readMeminfo?: () => string;
  now?: () => number;
}

export interface HostUsageReading {
  cpuEwmaCores: number;
  memoryWorkingSetBytes: number;
  memoryAvailableBytes: number;
  memoryTotalBytes: number;
}

/** Samples CPU on a timer (unref'd) and memory on demand. */
export class HostUsage {
  readonly #o: Required<Omit<HostUsageOptions, "cpus">> & { cpus: number };
  readonly #ewma: Ewma;
  #last: { t: number; times: CpuTimes } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: HostUsageOptions) {
    this.#o = {
      intervalMs: 5_000,
      tauMs: 60_000,
      readStat: () => readFileSync("/proc/stat", "utf8"),
      readMeminfo: () => readFileSync("/proc/meminfo", "utf8"),
      now: () => Date.now(),
      ...o,
    };
    this.#ewma = new Ewma(this.#o.tauMs);
  }

  /** Takes one CPU sample; the first only sets the baseline. Returns the average in cores. */
  sample(): number {
    const t = this.#o.now();
    const times = parseProcStat(this.#o.readStat());
    const last = this.#last;
    this.#last = { t, times };
    if (last && times.total > last.times.total) {
      const share = (times.busy - last.times.busy) / (times.total - last.times.total);
      this.#ewma.add(Math.min(1, Math.max(0, share)) * this.#o.cpus, t - last.t);
    }
    return this.#ewma.value ?? 0;
  }

  start(): this {
    this.sample();
    this.#timer ??= setInterval(() => {
      try {
        this.sample();
      } catch {
        // /proc is always there on Linux; a failed read leaves the last average standing.
      }
    }, this.#o.intervalMs).unref();
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  read(): HostUsageReading {
    const mem = parseMeminfo(this.#o.readMeminfo());
    return {
      cpuEwmaCores: Math.round((this.#ewma.value ?? 0) * 1000) / 1000,
      memoryWorkingSetBytes: Math.max(0, mem.totalBytes - mem.availableBytes),
      memoryAvailableBytes: mem.availableBytes,
      memoryTotalBytes: mem.totalBytes,
    };
  }
}

/** Free memory a host keeps for itself before it refuses new environments. */
export const memoryFloorBytes = (totalBytes: number) => Math.max(1024 ** 3, Math.ceil(totalBytes * 0.05));

/**
 * Why the host must not take new environments, or undefined when it may: too little memory
 * available, or disk free below the reserve. The text names the figures so an operator sees why.
 */
export function unschedulableReason(
  usage: Pick<HostUsageReading, "memoryAvailableBytes" | "memoryTotalBytes">,
  disk: { freeBytes: number; reserveBytes: number },
): string | undefined {
  const reasons: string[] = [];
  const floor = memoryFloorBytes(usage.memoryTotalBytes);
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (usage.memoryAvailableBytes < floor) {
    reasons.push(`memory available ${gib(usage.memoryAvailableBytes)} is below the floor of ${gib(floor)}`);
  }
  if (disk.freeBytes < disk.reserveBytes) {
    reasons.push(`disk free ${gib(disk.freeBytes)} is below the reserve of ${gib(disk.reserveBytes)}`);
  }
  return reasons.length ? reasons.join("; ") : undefined;
}
