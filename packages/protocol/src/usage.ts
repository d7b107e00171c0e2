// Usage accounting (`warren usage`, GET /api/v1/usage). Time and allocation come from the
// control plane's own record of its environments' state changes (an environment is billed for
// what it was allocated while it ran, and for its disk while it existed), never from a runner.
// What runners measured is shown beside it as measuredCpuSeconds, an estimate from sampled stats.
import { WarrenError } from "./errors.ts";

export const USAGE_GROUPS = ["user", "project", "class", "org"] as const;
export type UsageBy = (typeof USAGE_GROUPS)[number];

/** GET /api/v1/usage?since=&until=&by= (ISO 8601 times; defaults: the last 30 days, by user). */
export interface UsageQuery {
  since?: string;
  until?: string;
  by?: UsageBy;
}

export interface UsageRow {
  /** The user's name, the project (repository), the class or the organisation's name. */
  key: string;
  /** Seconds environments ran (observed running by the control plane). */
  envSeconds: number;
  /** Allocated CPU: cpus × seconds running. */
  cpuSeconds: number;
  /** Allocated memory: GiB × hours running. */
  memoryGiBHours: number;
  /** Reserved disk: GiB × hours the environment existed, running or not. */
  diskGiBHours: number;
  /** CPU the runners reported using (sampled), for comparison; never what is billed. */
  measuredCpuSeconds: number;
}

export interface UsageReport {
  since: string;
  until: string;
  by: UsageBy;
  rows: UsageRow[];
}

/** Part of ApiClient (api.ts). */
export interface UsageClient {
  usage(q?: UsageQuery): Promise<UsageReport>;
}

/** The key of a project-less environment in a report by project. */
export const NO_PROJECT = "(none)";
export const DEFAULT_USAGE_DAYS = 30;
/** A report spans at most this long (a bound on the work one request may ask for). */
export const MAX_USAGE_DAYS = 3660;

export function usageMethods(http: {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
}): UsageClient {
  return {
    usage(q = {}) {
      const p = new URLSearchParams();
      if (q.since !== undefined) p.set("since", q.since);
      if (q.until !== undefined) p.set("until", q.until);
      if (q.by !== undefined) p.set("by", q.by);
      return http.json("GET", `/usage${p.size ? `?${p}` : ""}`);
    },
  };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const RELATIVE = /^(\d{1,6})(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

function bad(field: string, value: string, how: string): WarrenError {
  return new WarrenError("INVALID_ARGUMENT", `${field} ${JSON.stringify(value.slice(0, 64))}: ${how}`, {
    field,
  });
}

/**
 * A time as the API takes it: an ISO 8601 date (`2025-01-31`, midnight UTC) or date-time with a
 * zone (`2025-01-31T08:00:00Z`). Returns epoch milliseconds.
 */
export function parseUsageTime(field: string, value: string): number {
  const t = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(t))
    throw bad(
      field,
      value,
      "expected an ISO 8601 date or date-time with a zone, e.g. 2025-01-31 or 2025-01-31T08:00:00Z",
    );
  return t;
}

/** The CLI's form: also `30m`, `12h`, `7d`, `2w` before `nowMs`. Returns an ISO date-time. */
export function usageTimeArg(field: string, value: string, nowMs: number): string {
  const rel = RELATIVE.exec(value);
  if (rel) return new Date(nowMs - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]).toISOString();
  try {
    return new Date(parseUsageTime(field, value)).toISOString();
  } catch {
    throw bad(
      field,
      value,
      "expected a duration back from now (30m, 12h, 7d, 2w) or an ISO date (2025-01-31)",
    );
  }
}

export function checkUsageBy(value: string): UsageBy {
  if ((USAGE_GROUPS as readonly string[]).includes(value)) return value as UsageBy;
  throw bad("by", value, `expected one of ${USAGE_GROUPS.join(", ")}`);
}

/** The window a query asks for, checked: since < until, at most MAX_USAGE_DAYS long. */
export function usageWindow(q: UsageQuery, nowMs: number): { since: number; until: number; by: UsageBy } {
  const until = q.until !== undefined ? parseUsageTime("until", q.until) : nowMs;
  const since =
    q.since !== undefined ? parseUsageTime("since", q.since) : until - DEFAULT_USAGE_DAYS * UNIT_MS.d;
  if (since >= until)
    throw new WarrenError("INVALID_ARGUMENT", "since must be before until", { field: "since" });
  if (until - since > MAX_USAGE_DAYS * UNIT_MS.d)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `a usage report spans at most ${MAX_USAGE_DAYS} days; narrow since/until`,
      {
        field: "since",
      },
    );
  return { since, until, by: q.by === undefined ? "user" : checkUsageBy(q.by) };
}
