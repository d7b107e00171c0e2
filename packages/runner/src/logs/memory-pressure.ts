// Memory pressure as an event in the environment's log: when PSI memory "full" avg10 (the share
// of the last 10 s in which all its tasks were stalled on memory together) stays above the
// threshold for several samples in a row, the log says so once, and once more when it eases.
// Nothing is ever killed or throttled for pressure: the kernel's OOM killer acts at the limit,
// and pressure below it is the user's to see and act on (more memory, or less use).

import { readOptional } from "../cgroups/fs.ts";
import { readMemoryFullAvg10 } from "../cgroups/psi.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import { appendEvent, type LogLimits } from "./env-log.ts";

export const PRESSURE_FULL_AVG10_PERCENT = 20;
export const PRESSURE_SAMPLES = 3;

export type PressureChange = { kind: "raised" | "eased"; avg10: number };

/** Pure: one environment's run of samples above the threshold, and whether it was reported. */
export class PressureTracker {
  readonly #above = new Map<string, number>();
  readonly #raised = new Set<string>();
  readonly threshold: number;
  readonly samples: number;

  constructor(threshold = PRESSURE_FULL_AVG10_PERCENT, samples = PRESSURE_SAMPLES) {
    this.threshold = threshold;
    this.samples = samples;
  }

  /** A null sample (no PSI, or not running) forgets the environment: a new group starts afresh. */
  sample(id: string, avg10: number | null): PressureChange | null {
    if (avg10 === null) {
      this.forget(id);
      return null;
    }
    if (avg10 > this.threshold) {
      const n = (this.#above.get(id) ?? 0) + 1;
      this.#above.set(id, n);
      if (n >= this.samples && !this.#raised.has(id)) {
        this.#raised.add(id);
        return { kind: "raised", avg10 };
      }
      return null;
    }
    this.#above.delete(id);
    if (this.#raised.delete(id)) return { kind: "eased", avg10 };
    return null;
  }

  forget(id: string): void {
    this.#above.delete(id);
    this.#raised.delete(id);
  }

  /** Forgets every environment not in `ids`. */
  retain(ids: Set<string>): void {
    for (const id of [...this.#above.keys(), ...this.#raised]) if (!ids.has(id)) this.forget(id);
  }
}

export function pressureMessage(c: PressureChange, threshold: number, samples: number): string {
  const pct = `${c.avg10.toFixed(1)}%`;
  return c.kind === "raised"
    ? `memory pressure: all its processes were stalled waiting for memory ${pct} of the last 10 s ` +
        `(above ${threshold}% for ${samples} samples in a row); nothing is killed for this, but work is slow: ` +
        "give it more memory (warren set NAME --memory SIZE) or run less at once"
    : `memory pressure eased: stalled ${pct} of the last 10 s`;
}

export class MemoryPressureWatch {
  readonly #tracker: PressureTracker;
  readonly #cgroups: Pick<CgroupDriver, "paths">;
  readonly #limits: LogLimits;

  constructor(cgroups: Pick<CgroupDriver, "paths">, limits: LogLimits, tracker = new PressureTracker()) {
    this.#cgroups = cgroups;
    this.#limits = limits;
    this.#tracker = tracker;
  }

  /** One sample of one environment; returns the line it logged, if any. */
  async check(t: { id: string; cgroupPath: string; logFile: string }): Promise<string | null> {
    // PSI lives in the cgroup2 group: the whole group on v2, the pressure group on a v1 hybrid.
    const dir = this.#cgroups.paths(t.cgroupPath)["unified"];
    const avg10 = dir ? await readMemoryFullAvg10(dir, readOptional) : null;
    const change = this.#tracker.sample(t.id, avg10);
    if (!change) return null;
    const line = pressureMessage(change, this.#tracker.threshold, this.#tracker.samples);
    await appendEvent(t.logFile, line, this.#limits);
    return line;
  }

  retain(ids: Set<string>): void {
    this.#tracker.retain(ids);
  }
}
