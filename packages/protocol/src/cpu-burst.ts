// A class's CPU burst: the cap, in cores, the runner's CPU governor raises an environment of the
// class to while it is throttled and the host has idle cores. Left unset, the runner's own
// default applies (WARREN_GOVERNOR_BURST_FACTOR × the environment's cpus, 2× unless configured).
// Either way the governor never grants more than the host's budget (cores less its reserve).
// Shared by the CLI (to refuse a bad flag before a request) and the server (which checks again).
import { WarrenError } from "./errors.ts";

/** The most cores a burst may name: the same ceiling as the runner's burst factor. */
export const CPU_BURST_MAX = 64;

/**
 * A class's burst checked against its cpus: at least the cpus (equal means no burst) and at most
 * CPU_BURST_MAX. undefined or null is "the runner's default" and comes back as null.
 */
export function checkCpuBurst(burst: unknown, cpus: number): number | null {
  if (burst === undefined || burst === null) return null;
  if (typeof burst !== "number" || !Number.isFinite(burst) || burst < cpus || burst > CPU_BURST_MAX) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--cpu-burst ${String(burst)} is out of bounds: use a number of cores from the class's --cpus ` +
        `(${cpus}; equal means no burst) to ${CPU_BURST_MAX}, or leave it out for the runner's default ` +
        "(2 × cpus unless WARREN_GOVERNOR_BURST_FACTOR says otherwise)",
      { field: "cpuBurst", min: cpus, max: CPU_BURST_MAX },
    );
  }
  return burst;
}

/** The --cpu-burst flag as a number, checked; text that is not a number is shown as typed. */
export function parseCpuBurst(input: string, cpus: number): number {
  const n = Number(input);
  return checkCpuBurst(input.trim() !== "" && Number.isFinite(n) ? n : input, cpus) as number;
}
