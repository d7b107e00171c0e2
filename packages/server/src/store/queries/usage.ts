// Usage intervals (migration 029): the report's sums, and the sampler's measured CPU. Intervals
// are opened and closed by triggers on `environments`; nothing here writes their times.
import type { UsageBy } from "@warren/protocol";
import { type RawBuilder, sql } from "kysely";
import type { Queryable } from "./envs.ts";

export interface UsageSums {
  /** owner_id, project (null: none), class_name or org_id. */
  group: string | null;
  runMs: number;
  cpuMs: number;
  memoryByteMs: number;
  diskByteMs: number;
  measuredCpuMs: number;
}

export interface UsageFilter {
  since: number;
  until: number;
  /** Open intervals count up to here (the report's clock). */
  now: number;
  by: UsageBy;
  /** Only this organisation's; undefined: every organisation. */
  orgId?: string;
  /** Only this user's environments. */
  ownerId?: string;
}

const GROUP_COLUMN = { user: "owner_id", project: "project", class: "class_name", org: "org_id" } as const;

const big = (n: number) => sql`cast(${Math.round(n)} as bigint)`;
const least = (a: RawBuilder<unknown>, b: RawBuilder<unknown>) =>
  sql`case when ${a} < ${b} then ${a} else ${b} end`;
const greatest = (a: RawBuilder<unknown>, b: RawBuilder<unknown>) =>
  sql`case when ${a} > ${b} then ${a} else ${b} end`;
const dbl = (e: RawBuilder<unknown>) => sql`cast(${e} as double precision)`;

/**
 * Per group: each interval's overlap with [since, until) (open ones end at `now`) times its
 * allocation, summed in the database. Measured CPU is the interval's sampled total scaled by the
 * share of its sampled span inside the window.
 */
export async function usageSums(db: Queryable, f: UsageFilter): Promise<UsageSums[]> {
  const since = big(f.since);
  const until = big(f.until);
  const end = sql`coalesce(ended_ms, ${big(f.now)})`;
  const lo = greatest(sql`started_ms`, since);
  const overlap = dbl(sql`${least(end, until)} - ${lo}`);
  const sampledHi = least(sql`measured_at_ms`, until);
  const sampledOverlap = dbl(sql`case when ${sampledHi} > ${lo} then ${sampledHi} - ${lo} else 0 end`);
  const run = (e: RawBuilder<unknown>) => sql`sum(case when kind = 'run' then ${e} else 0 end)`;
  const col = sql.ref(GROUP_COLUMN[f.by]);
  let q = db
    .selectFrom("usage_intervals")
    .select([
      sql<string | null>`${col}`.as("grp"),
      sql<number>`${run(overlap)}`.as("run_ms"),
      sql<number>`${run(sql`${overlap} * cpus`)}`.as("cpu_ms"),
      sql<number>`${run(sql`${overlap} * memory_bytes`)}`.as("memory_byte_ms"),
      sql<number>`sum(case when kind = 'disk' then ${overlap} * disk_bytes else 0 end)`.as("disk_byte_ms"),
      sql<number>`${run(
        sql`case when measured_at_ms > started_ms then measured_cpu_ms * ${sampledOverlap} / ${dbl(sql`measured_at_ms - started_ms`)} else 0 end`,
      )}`.as("measured_cpu_ms"),
    ])
    .where(sql<boolean>`started_ms < ${until}`)
    .where(sql<boolean>`${end} > ${since}`)
    .where(sql<boolean>`started_ms < ${big(f.now)}`);
  if (f.orgId !== undefined) q = q.where("org_id", "=", f.orgId);
  if (f.ownerId !== undefined) q = q.where("owner_id", "=", f.ownerId);
  const rows = await q.groupBy(col).execute();
  return rows.map((r) => ({
    group: r.grp,
    runMs: Number(r.run_ms),
    cpuMs: Number(r.cpu_ms),
    memoryByteMs: Number(r.memory_byte_ms),
    diskByteMs: Number(r.disk_byte_ms),
    measuredCpuMs: Number(r.measured_cpu_ms),
  }));
}

/** Display names of users or organisations by id. */
export async function namesOf(
  db: Queryable,
  table: "users" | "orgs",
  ids: string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom(table).select(["id", "name"]).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

export interface OpenRun {
  id: number;
  envId: string;
  cpus: number;
  startedMs: number;
  measuredAtMs: number | null;
}

export async function openRunIntervals(db: Queryable): Promise<OpenRun[]> {
  const rows = await db
    .selectFrom("usage_intervals")
    .select(["id", "env_id", "cpus", "started_ms", "measured_at_ms"])
    .where("kind", "=", "run")
    .where("ended_ms", "is", null)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    envId: r.env_id,
    cpus: Number(r.cpus),
    startedMs: Number(r.started_ms),
    measuredAtMs: r.measured_at_ms === null ? null : Number(r.measured_at_ms),
  }));
}

/**
 * Adds sampled CPU to a run interval that is still open (a sample racing its close is dropped:
 * at most one sampling period of measured CPU, which is only shown, never billed).
 */
export async function addMeasuredCpu(db: Queryable, id: number, cpuMs: number, atMs: number): Promise<void> {
  await db
    .updateTable("usage_intervals")
    .set((eb) => ({
      measured_cpu_ms: eb("measured_cpu_ms", "+", Math.round(cpuMs)),
      measured_at_ms: Math.round(atMs),
    }))
    .where("id", "=", id)
    .where("ended_ms", "is", null)
    .execute();
}
