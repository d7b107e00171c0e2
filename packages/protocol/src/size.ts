import { WarrenError } from "./errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  ki: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mi: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gi: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  ti: 1024 ** 4,
  tb: 1024 ** 4,
};

/**
 * Parses `512m`, `2g`, `512Mi`, `2Gi` (and plain bytes). Like Docker, single-letter
 * suffixes are binary: `512m` is 512 MiB, the same as `512Mi`.
 */
export function parseSize(input: string, what = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]{0,2})\s*$/.exec(input);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new WarrenError(
      "INVALID_SIZE",
      `invalid ${what} "${input}": use a number with a unit, such as 512m, 2g, 512Mi or 2Gi`,
      { input },
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new WarrenError("INVALID_SIZE", `invalid ${what} "${input}": must be greater than zero`, { input });
  }
  return bytes;
}

/** Formats bytes in the largest binary unit that keeps one decimal: 2Gi, 512Mi, 1.5Gi. */
export function formatSize(bytes: number): string {
  const units = ["", "Ki", "Mi", "Gi", "Ti"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, "");
  return `${s}${units[i]}`;
}
