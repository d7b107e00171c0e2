// The runner's guard against taking work it cannot hold: it reports itself unschedulable while
// memory available is below max(1 GiB, 5 %), the host's memory pressure is high, or free disk is
// below the floor (the floor's value is the disk admission's; this file only applies it). It
// turns schedulable again only after the readings stayed below every threshold for 5 minutes, so
// a host that just shed load is not refilled at once and pushed straight back over.
import { readFileSync } from "node:fs";
import { parsePsi } from "../cgroups/psi.ts";
import { type HostUsageReading, unschedulableReason } from "./host-usage.ts";

/** Host memory pressure counts as high at this /proc/pressure/memory "full" avg10 (percent). */
export const HOST_PRESSURE_FULL_AVG10_PERCENT = 10;
/** How long every reading must stay below its threshold before the host takes work again. */
export const RECOVER_MS = 5 * 60_000;

export interface HostGuardReading {
  usage: Pick<HostUsageReading, "memoryAvailableBytes" | "memoryTotalBytes">;
  /** /proc/pressure/memory "full" avg10; null where the kernel has no PSI. */
  memoryPressureFullAvg10: number | null;
  disk: { freeBytes: number; floorBytes: number };
}

export interface HostGuardOptions {
  now?: () => number;
  recoverMs?: number;
  pressureFullAvg10Percent?: number;
}

/** What the host is short of now, or undefined when every reading is below its threshold. */
export function hostShortage(r: HostGuardReading, pressureLimit = HOST_PRESSURE_FULL_AVG10_PERCENT) {
  const reasons: string[] = [];
  const base = unschedulableReason(r.usage, { freeBytes: r.disk.freeBytes, reserveBytes: r.disk.floorBytes });
  if (base) reasons.push(base);
  const p = r.memoryPressureFullAvg10;
  if (p !== null && p >= pressureLimit) {
    reasons.push(
      `host memory pressure is high: all tasks stalled on memory ${p.toFixed(1)}% of the last 10 s (limit ${pressureLimit}%)`,
    );
  }
  return reasons.length ? reasons.join("; ") : undefined;
}

/** Stateful over readings (one per runner): the hysteresis between unschedulable and back. */
export class HostGuard {
  readonly #now: () => number;
  readonly #recoverMs: number;
  readonly #pressureLimit: number;
  #lastShort: { at: number; reason: string } | undefined;

  constructor(o: HostGuardOptions = {}) {
    this.#now = o.now ?? Date.now;
    this.#recoverMs = o.recoverMs ?? RECOVER_MS;
    this.#pressureLimit = o.pressureFullAvg10Percent ?? HOST_PRESSURE_FULL_AVG10_PERCENT;
  }

  /** Why the host must not take new environments now, or undefined when it may. */
  check(r: HostGuardReading): string | undefined {
    const now = this.#now();
    const reason = hostShortage(r, this.#pressureLimit);
    if (reason) {
      this.#lastShort = { at: now, reason };
      return reason;
    }
    const last = this.#lastShort;
    if (!last) return undefined;
    const left = last.at + this.#recoverMs - now;
    if (left <= 0) {
      this.#lastShort = undefined;
      return undefined;
    }
    const mins = Math.round(this.#recoverMs / 60_000);
    return (
      `recovering: ${last.reason} until ${new Date(last.at).toISOString()}; schedulable again after ` +
      `${mins} minutes below every threshold (in ${Math.ceil(left / 1000)} s)`
    );
  }
}

/** The host's memory "full" avg10 from /proc/pressure/memory; null without PSI (psi=0, old kernels). */
export function readHostMemoryPressure(
  read: () => string = () => readFileSync("/proc/pressure/memory", "utf8"),
) {
  try {
    return parsePsi(read()).full?.avg10 ?? null;
  } catch {
    return null;
  }
}
