// Named queries on env_changes (migration 006), the log that environment watches read.
import { type Selectable, sql } from "kysely";
import type { EnvChangesTable } from "../schema.ts";
import type { EnvRow, Queryable } from "./envs.ts";

/** Where PostgreSQL replicas hear that the shared watch log grew (payload: its newest rv). */
export const WATCH_LOG_CHANNEL = "warren_watch_log";

export type EnvChangeRow = Selectable<EnvChangesTable>;
export type EnvChangeType = EnvChangesTable["type"];

/**
 * Appends several changes in one statement (the watch recorder's batch under the shared log's
 * lock: one round trip, not one per change) and returns the newest rv, or undefined for none.
 */
export async function appendEnvChanges(
  db: Queryable,
  cs: { envId: string; type: EnvChangeType; object: string; orgId: string | null; ownerId: string | null }[],
  at: string,
): Promise<number | undefined> {
  if (cs.length === 0) return undefined;
  const rows = await db
    .insertInto("env_changes")
    .values(
      cs.map((c) => ({
        env_id: c.envId,
        type: c.type,
        object: c.object,
        org_id: c.orgId,
        owner_id: c.ownerId,
        at,
      })),
    )
    .returning("rv")
    .execute();
  return Math.max(...rows.map((r) => Number(r.rv)));
}

/**
 * appendEnvChanges on PostgreSQL, telling the other replicas the log's new newest version in the
 * same statement: the NOTIFY is delivered at commit, so a replica that hears it can read the rows.
 */
export async function appendEnvChangesNotifying(
  db: Queryable,
  cs: { envId: string; type: EnvChangeType; object: string; orgId: string | null; ownerId: string | null }[],
  at: string,
): Promise<number | undefined> {
  if (cs.length === 0) return undefined;
  const r = await db
    .with("ins", (q) =>
      q
        .insertInto("env_changes")
        .values(
          cs.map((c) => ({
            env_id: c.envId,
            type: c.type,
            object: c.object,
            org_id: c.orgId,
            owner_id: c.ownerId,
            at,
          })),
        )
        .returning("rv"),
    )
    .selectFrom("ins")
    .select([
      sql<string>`max(rv)`.as("rv"),
      sql<string>`pg_notify(${WATCH_LOG_CHANNEL}, max(rv)::text)::text`.as("notified"),
    ])
    .executeTakeFirstOrThrow();
  return Number(r.rv);
}

/** Rows of `envIds` that exist, each with the log's newest change of it (one query, index-backed). */
export async function envsWithLatestChange(
  db: Queryable,
  envIds: string[],
): Promise<(EnvRow & { log_type: EnvChangeType | null; log_object: string | null })[]> {
  if (envIds.length === 0) return [];
  return db
    .selectFrom("environments as e")
    .selectAll("e")
    .select((eb) => [
      eb
        .selectFrom("env_changes as c")
        .select("c.type")
        .whereRef("c.env_id", "=", "e.id")
        .orderBy("c.rv", "desc")
        .limit(1)
        .as("log_type"),
      eb
        .selectFrom("env_changes as c")
        .select("c.object")
        .whereRef("c.env_id", "=", "e.id")
        .orderBy("c.rv", "desc")
        .limit(1)
        .as("log_object"),
    ])
    .where("e.id", "in", envIds)
    .execute() as Promise<(EnvRow & { log_type: EnvChangeType | null; log_object: string | null })[]>;
}

/** The newest recorded change of each of `envIds` (any replica's), in one query. */
export async function latestEnvChangesOf(
  db: Queryable,
  envIds: string[],
): Promise<Map<string, Pick<EnvChangeRow, "type" | "object" | "org_id" | "owner_id">>> {
  const out = new Map<string, Pick<EnvChangeRow, "type" | "object" | "org_id" | "owner_id">>();
  if (envIds.length === 0) return out;
  const rows = await db
    .selectFrom("env_changes")
    .select(["env_id", "type", "object", "org_id", "owner_id"])
    .where("rv", "in", (eb) =>
      eb
        .selectFrom("env_changes")
        .select((e) => e.fn.max("rv").as("rv"))
        .where("env_id", "in", envIds)
        .groupBy("env_id"),
    )
    .execute();
  for (const r of rows)
    out.set(r.env_id, { type: r.type, object: r.object, org_id: r.org_id, owner_id: r.owner_id });
  return out;
}

/** Changes after `rv`, oldest first. */
export async function listEnvChangesAfter(db: Queryable, rv: number, limit = 1000): Promise<EnvChangeRow[]> {
  const rows = await db
    .selectFrom("env_changes")
    .selectAll()
    .where("rv", ">", rv)
    .orderBy("rv")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, rv: Number(r.rv) }));
}

/** The latest change of every environment, i.e. what the log believes exists (minus DELETED). */
export async function latestEnvChanges(db: Queryable): Promise<EnvChangeRow[]> {
  const rows = await db
    .selectFrom("env_changes")
    .selectAll()
    .where("rv", "in", (eb) =>
      eb
        .selectFrom("env_changes")
        .select((e) => e.fn.max("rv").as("m"))
        .groupBy("env_id"),
    )
    .orderBy("rv")
    .execute();
  return rows.map((r) => ({ ...r, rv: Number(r.rv) }));
}

export async function newestEnvChange(db: Queryable): Promise<number> {
  const r = await db
    .selectFrom("env_changes")
    .select((eb) => eb.fn.max("rv").as("max"))
    .executeTakeFirstOrThrow();
  return Number(r.max ?? 0);
}

/** The highest rv compacted away; a watch resuming below it has missed changes. */
export async function compactedEnvChange(db: Queryable): Promise<number> {
  const r = await db.selectFrom("env_changes_compacted").select("rv").where("id", "=", 1).executeTakeFirst();
  return Number(r?.rv ?? 0);
}

/** Drops changes at or below `rv` that are not the latest change of their environment, so the
 *  log stays bounded yet still knows every live environment's last state across restarts. */
export async function compactEnvChanges(db: Queryable, rv: number): Promise<number> {
  const res = await db
    .deleteFrom("env_changes")
    .where("rv", "<=", rv)
    .where("rv", "not in", (eb) =>
      eb
        .selectFrom("env_changes")
        .select((e) => e.fn.max("rv").as("m"))
        .groupBy("env_id"),
    )
    .executeTakeFirst();
  await db
    .insertInto("env_changes_compacted")
    .values({ id: 1, rv })
    .onConflict((oc) => oc.column("id").doUpdateSet({ rv }))
    .execute();
  return Number(res.numDeletedRows);
}
