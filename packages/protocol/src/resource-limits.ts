// The smallest and largest resources an environment may ask for, whatever its class. The server
// checks every create, `set` and class against them before anything is stored, so a value no
// environment can run with is refused with the limits instead of leaving a pending or failed one.
import { WarrenError } from "./errors.ts";
import { formatSize } from "./size.ts";

const MiB = 1024 ** 2;
const TiB = 1024 ** 4;

export type ResourceField = "cpus" | "memory" | "disk" | "pids";

interface Limit {
  min: number;
  max: number;
  /** Why the floor is where it is, for the refusal. */
  floorReason: string;
  format: (n: number) => string;
  integer?: boolean;
}

/**
 * Floors measured on this project's hosts: gVisor's sandbox does not start in 16 MiB of memory
 * but runs commands in 32 MiB, and idles at 70 to 90 tasks, so at 64 its second exec fails while
 * 128 holds (runc and crun need a few MiB and 4 tasks); the runner formats no disk under 16 MiB. Ceilings: the CFS quota's 1 ms per 100 ms period
 * (0.01 cpus) and the kernel's PID_MAX_LIMIT; 16 TiB is the largest file, and so the largest
 * disk image, ext4 holds with 4 KiB blocks.
 */
export const RESOURCE_LIMITS: Readonly<Record<ResourceField, Limit>> = {
  cpus: {
    min: 0.01,
    max: 1024,
    floorReason: "the kernel's smallest CPU quota",
    format: String,
  },
  memory: {
    min: 32 * MiB,
    max: 16 * TiB,
    floorReason: "an environment needs that much to start on every runtime",
    format: formatSize,
  },
  disk: {
    min: 16 * MiB,
    max: 16 * TiB,
    floorReason: "the smallest disk the runner formats",
    format: formatSize,
  },
  pids: {
    min: 128,
    max: 4_194_304,
    floorReason: "an environment needs that many processes and threads to start on every runtime",
    format: String,
    integer: true,
  },
};

/**
 * Throws INVALID_ARGUMENT, naming the limits, unless `value` is within RESOURCE_LIMITS[field].
 * `label` is how the caller knows the field ("--memory", "max memory"); `context` says where a
 * value the caller did not type came from (`class "small"'s default`).
 */
export function checkResourceLimit(
  field: ResourceField,
  value: number,
  label: string = field,
  context?: string,
): number {
  const l = RESOURCE_LIMITS[field];
  const range = `${l.format(l.min)} to ${l.format(l.max)}`;
  const shown = Number.isFinite(value) ? l.format(value) : String(value);
  const of = context ? ` (${context})` : "";
  const details = { field, value, min: l.min, max: l.max };
  if (!Number.isFinite(value) || (l.integer && !Number.isInteger(value))) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ${label} ${shown}${of}: use a ${l.integer ? "whole " : ""}number from ${range}`,
      details,
    );
  }
  if (value < l.min) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${label} ${shown}${of} is below the minimum of ${l.format(l.min)} (${l.floorReason}); ask for ${range}`,
      details,
    );
  }
  if (value > l.max) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${label} ${shown}${of} is above the maximum of ${l.format(l.max)}; ask for ${range}`,
      details,
    );
  }
  return value;
}
