// Idle stop: how long an environment may go without use before Warren stops it (keeping its
// disk), and what it was last used for. Timeouts travel as whole seconds; null means never.

/** What counts as use: a terminal (exec, shell), SSH channel data, a signed-in HTTP request. */
export const ACTIVITY_KINDS = ["terminal", "ssh", "http"] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** New environments stop after 30 minutes without use, unless their class or organisation says less. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 30 * 60;

/** The last use Warren saw, so a person can tell why an environment is still up. */
export interface EnvActivity {
  kind: ActivityKind;
  /** ISO 8601 time. */
  at: string;
  /** Who or what used it, e.g. "user:u_123". */
  source: string;
}

export interface EnvIdle {
  /** The environment's own idle timeout in seconds; null: never stopped for idleness. */
  timeoutSeconds: number | null;
  lastActivity?: EnvActivity;
  /** When it will be stopped unless used again (ISO 8601); absent when no stop is due. */
  stopDeadline?: string;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };
const DURATION_RE = /^(\d+[smhdw])+$/;
/** A year: anything longer is a typo for never. */
export const MAX_IDLE_TIMEOUT_SECONDS = 365 * 86_400;
/** Shorter than a minute would stop environments between two keystrokes' deadline writes. */
export const MIN_IDLE_TIMEOUT_SECONDS = 60;

/**
 * An idle timeout as a CLI or API caller writes it: a duration such as 30m, 2h, 1h30m, 1d, or
 * "never". Returns seconds, or null for never; throws a message naming `what` when it is neither.
 */
export function parseIdleTimeout(input: string, what = "idle timeout"): number | null {
  const s = input.trim().toLowerCase();
  if (s === "never") return null;
  const bad = () =>
    new Error(
      `invalid ${what} "${input}": use a duration from 1m to 365d such as 30m, 2h or 1h30m, or "never"`,
    );
  if (!DURATION_RE.test(s)) throw bad();
  let seconds = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * UNIT_SECONDS[unit!]!;
  if (seconds < MIN_IDLE_TIMEOUT_SECONDS || seconds > MAX_IDLE_TIMEOUT_SECONDS) throw bad();
  return seconds;
}

/** Seconds as the shortest exact duration (90 → "1m30s", 1800 → "30m"); null → "never". */
export function formatIdleTimeout(seconds: number | null): string {
  if (seconds === null) return "never";
  let left = seconds;
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (left >= size) {
      out += `${Math.floor(left / size)}${unit}`;
      left %= size;
    }
  }
  return out || "0s";
}

/** The shortest of several limits, null being "no limit". */
export function shortestTimeout(...limits: (number | null | undefined)[]): number | null {
  const set = limits.filter((l): l is number => typeof l === "number");
  return set.length === 0 ? null : Math.min(...set);
}
