// Disk I/O limits a class sets on its environments' disks: read and write bandwidth (bytes per
// second) and operations per second. The runner applies them to the environment's loop device
// (v1 blkio.throttle.*, v2 io.max). A field left out is unlimited. Shared by the CLI (to refuse
// bad flags before a request) and the server (which checks every request again).
import { WarrenError } from "./errors.ts";
import { formatSize, parseSize } from "./size.ts";

export interface IoLimits {
  /** Read bandwidth, bytes per second. */
  readBps?: number;
  /** Write bandwidth, bytes per second. */
  writeBps?: number;
  /** Read operations per second. */
  readIops?: number;
  /** Write operations per second. */
  writeIops?: number;
}

export const IO_LIMIT_FIELDS = ["readBps", "writeBps", "readIops", "writeIops"] as const;
export type IoLimitField = (typeof IO_LIMIT_FIELDS)[number];

/**
 * Below 1 MiB/s an ext4 journal commit alone can stall an environment for seconds; below 10
 * IOPS every metadata write queues. Above these bounds the kernel's u64 would take anything, but
 * a limit past any real device is a typo.
 */
export const IO_BPS_BOUNDS = { min: 1024 ** 2, max: 1024 ** 4 } as const;
export const IO_IOPS_BOUNDS = { min: 10, max: 10_000_000 } as const;

const FLAG: Record<IoLimitField, string> = {
  readBps: "--read-bps",
  writeBps: "--write-bps",
  readIops: "--read-iops",
  writeIops: "--write-iops",
};

const isBps = (f: IoLimitField) => f === "readBps" || f === "writeBps";

function bad(field: IoLimitField, message: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field });
}

/** One limit within its bounds: a whole number; the message names the flag and the bounds. */
export function checkIoLimit(field: IoLimitField, value: unknown): number {
  const b = isBps(field) ? IO_BPS_BOUNDS : IO_IOPS_BOUNDS;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < b.min || value > b.max) {
    const range = isBps(field)
      ? `${formatSize(b.min)} to ${formatSize(b.max)} per second, e.g. ${FLAG[field]} 50M`
      : `a whole number from ${b.min} to ${b.max}, e.g. ${FLAG[field]} 2000`;
    bad(field, `${FLAG[field]} ${String(value)} is out of bounds: use ${range} (leave it out for no limit)`);
  }
  return value;
}

/** A class's limits as a request or a stored row carries them, checked; {} means unlimited. */
export function checkIoLimits(limits: unknown): IoLimits {
  if (limits === undefined || limits === null) return {};
  if (typeof limits !== "object" || Array.isArray(limits)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "I/O limits must be an object of readBps, writeBps, readIops, writeIops",
    );
  }
  const out: IoLimits = {};
  for (const [key, value] of Object.entries(limits as Record<string, unknown>)) {
    if (!(IO_LIMIT_FIELDS as readonly string[]).includes(key)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `unknown I/O limit ${JSON.stringify(key)}: use readBps, writeBps, readIops or writeIops`,
        { field: key },
      );
    }
    if (value === undefined || value === null) continue;
    out[key as IoLimitField] = checkIoLimit(key as IoLimitField, value);
  }
  return out;
}

/** A bandwidth flag ("50M", "1g", plain bytes) as bytes per second, checked. */
export function parseIoBps(field: "readBps" | "writeBps", input: string): number {
  const text = input.trim().replace(/\/s$/i, "");
  let bytes: number;
  try {
    bytes = parseSize(text, `${FLAG[field]} rate`);
  } catch {
    bad(
      field,
      `${FLAG[field]} ${JSON.stringify(input)} is not a rate: use bytes per second with a unit, e.g. 50M or 1g`,
    );
  }
  return checkIoLimit(field, bytes);
}

/** An IOPS flag as a whole number, checked. */
export function parseIoIops(field: "readIops" | "writeIops", input: string): number {
  const n = Number(input);
  return checkIoLimit(field, input.trim() !== "" && Number.isFinite(n) ? n : input);
}

/** True when no limit is set. */
export function ioUnlimited(l: IoLimits | undefined): boolean {
  return !l || IO_LIMIT_FIELDS.every((f) => l[f] === undefined);
}

/** "r 50Mi/s w 50Mi/s r 2000 IOPS", or "-" when unlimited: one table cell. */
export function formatIoLimits(l: IoLimits | undefined): string {
  if (!l || ioUnlimited(l)) return "-";
  const parts: string[] = [];
  if (l.readBps !== undefined) parts.push(`r ${formatSize(l.readBps)}/s`);
  if (l.writeBps !== undefined) parts.push(`w ${formatSize(l.writeBps)}/s`);
  if (l.readIops !== undefined) parts.push(`r ${l.readIops} IOPS`);
  if (l.writeIops !== undefined) parts.push(`w ${l.writeIops} IOPS`);
  return parts.join(" ");
}
