// Named queries for idle stop (migration 023): the owner's timeout, the last activity and the
// stop deadline, the limits of classes and organisations, and the idle stop itself.
import { PostgresAdapter, type RawBuilder, sql } from "kysely";
import type { EnvRow, Queryable } from "./envs.ts";

/**
 * The idle deadline a start gives, as an expression over the row being updated: `now` plus the
 * timeout in force (the shortest of the owner's, the class's and the organisation's, as
 * services/idle-settings.ts effectiveIdleTimeout and the idle controller read them), never moved
 * back, and unchanged when no timeout applies. Stored by the write that marks the environment
 * running, so the idle controller has nothing to record afterwards (one synced commit less per
 * start). The text has toISOString's form, which the deadline's string comparisons rely on.
 */
export function idleDeadlineFromStart(db: Queryable, now: string): RawBuilder<string | null> {
  const classMax = sql`coalesce(
      (select c.idle_timeout_s from classes c where c.name = environments.class_name
        and c.org_id = environments.org_id and c.builtin = 0),
      (select c.idle_timeout_s from classes c where c.name = environments.class_name and c.builtin = 1))`;
  const orgMax = sql`(select q.max_idle_timeout_s from org_quotas q where q.org_id = environments.org_id)`;
  const own = sql`environments.idle_timeout_s`;
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  // least() skips nulls on PostgreSQL; SQLite's min() would return null, so nulls become "never".
  const never = 2 ** 40;
  const secs = pg
    ? sql`least(${own}, ${classMax}, ${orgMax})`
    : sql`nullif(min(coalesce(${own}, ${never}), coalesce(${classMax}, ${never}), coalesce(${orgMax}, ${never})), ${never})`;
  const at = pg
    ? sql<string>`to_char((${now}::timestamptz + ${secs} * interval '1 second') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', ${now}, '+' || ${secs} || ' seconds')`;
  return sql<string | null>`case when ${secs} is null then idle_deadline
    when idle_deadline is null or idle_deadline < ${at} then ${at} else idle_deadline end`;
}

export async function updateIdleTimeout(
  db: Queryable,
  id: string,
  seconds: number | null,
  now: string,
): Promise<void> {
  await db
    .updateTable("environments")
    .set({ idle_timeout_s: seconds, updated_at: now })
    .where("id", "=", id)
    .execute();
}

export interface ActivityWrite {
  at: string;
  kind: string;
  source: string;
  /** The deadline this activity gives; kept only if later than the stored one. */
  deadline: string | null;
}

/**
 * Records the last activity and moves the deadline forward, never back: both are kept only when
 * later than what is stored, so a late write (another replica, a slow flush) cannot undo a newer
 * one. Not an intent change: updated_at and the watch log are left alone.
 */
export async function writeActivity(db: Queryable, id: string, w: ActivityWrite): Promise<void> {
  const newer = sql<boolean>`last_activity_at is null or last_activity_at < ${w.at}`;
  await db
    .updateTable("environments")
    .set({
      last_activity_at: sql`case when ${newer} then ${w.at} else last_activity_at end`,
      last_activity_kind: sql`case when ${newer} then ${w.kind} else last_activity_kind end`,
      last_activity_source: sql`case when ${newer} then ${w.source} else last_activity_source end`,
      idle_deadline:
        w.deadline === null
          ? sql`idle_deadline`
          : sql`case when idle_deadline is null or idle_deadline < ${w.deadline} then ${w.deadline} else idle_deadline end`,
    })
    .where("id", "=", id)
    .execute();
}

/** Stores `deadline` unless a later one is stored: the deadline never moves back. */
export async function advanceDeadline(db: Queryable, id: string, deadline: string): Promise<void> {
  await db
    .updateTable("environments")
    .set({ idle_deadline: deadline })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("idle_deadline", "is", null), eb("idle_deadline", "<", deadline)]))
    .execute();
}

/** Environments meant to run and running: the only ones idle stop looks at. */
export function listRunningEnvs(db: Queryable): Promise<EnvRow[]> {
  return db
    .selectFrom("environments")
    .selectAll()
    .where("desired", "=", "running")
    .where("state", "=", "running")
    .execute();
}

/** The organisations' idle maximums that are set, by org id. */
export async function orgIdleMaximums(db: Queryable): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom("org_quotas")
    .select(["org_id", "max_idle_timeout_s"])
    .where("max_idle_timeout_s", "is not", null)
    .execute();
  return new Map(rows.map((r) => [r.org_id, Number(r.max_idle_timeout_s)]));
}

/** Classes with an idle limit: `builtin` ones apply to every organisation. */
export function classIdleLimits(
  db: Queryable,
): Promise<{ name: string; org_id: string; builtin: number; idle_timeout_s: number | null }[]> {
  return db
    .selectFrom("classes")
    .select(["name", "org_id", "builtin", "idle_timeout_s"])
    .where("idle_timeout_s", "is not", null)
    .execute();
}

/**
 * The idle stop's intent, made durable like `warren stop`'s: desired becomes stopped (the disk is
 * kept), the generation is bumped and the deadline cleared. Only if nobody changed the intent
 * since the pass read the row (`generation`): a start or stop that raced it wins. True if written.
 */
export async function stopIdleEnv(
  db: Queryable,
  id: string,
  generation: number,
  graceMs: number,
  now: string,
): Promise<boolean> {
  const r = await db
    .updateTable("environments")
    .set((eb) => ({
      desired: "stopped",
      stop_grace_ms: graceMs,
      generation: eb("generation", "+", 1),
      idle_deadline: null,
      updated_at: now,
    }))
    .where("id", "=", id)
    .where("generation", "=", generation)
    .where("desired", "=", "running")
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
