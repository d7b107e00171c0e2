// --since and --until: a point in time as ISO-8601 ("2026-01-31T12:00:00Z") or as a duration
// back from now ("90s", "30m", "2h", "1d", "1w", "1h30m"), as `docker logs --since` takes them.
import { WarrenError } from "@warren/protocol";

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DURATION_RE = /^(\d+[smhdw])+$/;

/** Milliseconds in a duration such as "2h" or "1h30m"; undefined when it is not one. */
export function parseDuration(input: string): number | undefined {
  const s = input.trim().toLowerCase();
  if (!DURATION_RE.test(s)) return undefined;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([smhdw])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The ISO time that `input` names: a duration counts back from `now`. */
export function parseTimeBound(input: string, flag: string, now: number = Date.now()): string {
  const ago = parseDuration(input);
  if (ago !== undefined) return new Date(now - ago).toISOString();
  // Only date-shaped text: Date.parse alone would take "5" or "May" as a year or a month.
  const t = /^\d{4}-\d{2}-\d{2}/.test(input.trim()) ? Date.parse(input) : Number.NaN;
  if (Number.isNaN(t)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ${flag} "${input}": use a duration back from now such as 30m, 2h or 1d, or an ISO-8601 time such as 2026-01-31T12:00:00Z`,
    );
  }
  return new Date(t).toISOString();
}
