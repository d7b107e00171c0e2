// Named queries on env_changes (migration 006), the log that environment watches read.
import type { Selectable } from "kysely";
import type { EnvChangesTable } from "../schema.ts";
import type { Queryable } from "./envs.ts";

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

/** The newest recorded change of each of `envIds` (any replica's), in one query. */
export async function latestEnvChangesOf(
  db: Queryable,
  envIds: string[],
): Promise<Map<string, Pick<EnvChangeRow, "type" | "object">>> {
  const out = new Map<string, Pick<EnvChangeRow, "type" | "object">>();
  if (envIds.length === 0) return out;
  const rows = await db
    .selectFrom("env_changes")
    .select(["env_id", "type", "object"])
    .where("rv", "in", (eb) =>
      eb
        .selectFrom("env_changes")
        .select((e) => e.fn.max("rv").as("rv"))
        .where("env_id", "in", envIds)
        .groupBy("env_id"),
    )
    .execute();
  for (const r of rows) out.set(r.env_id, { type: r.type, object: r.object });
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
