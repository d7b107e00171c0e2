// Named queries on env_changes (migration 006), the log that environment watches read.
import type { Selectable } from "kysely";
import type { EnvChangesTable } from "../schema.ts";
import type { Queryable } from "./envs.ts";

export type EnvChangeRow = Selectable<EnvChangesTable>;
export type EnvChangeType = EnvChangesTable["type"];

export async function appendEnvChange(
  db: Queryable,
  c: {
    envId: string;
    type: EnvChangeType;
    object: string;
    orgId: string | null;
    ownerId: string | null;
    at: string;
  },
): Promise<number> {
  const r = await db
    .insertInto("env_changes")
    .values({
      env_id: c.envId,
      type: c.type,
      object: c.object,
      org_id: c.orgId,
      owner_id: c.ownerId,
      at: c.at,
    })
    .returning("rv")
    .executeTakeFirstOrThrow();
  return Number(r.rv);
}

/** The newest recorded change of one environment (any replica's). */
export async function latestEnvChangeOf(
  db: Queryable,
  envId: string,
): Promise<Pick<EnvChangeRow, "type" | "object"> | undefined> {
  return db
    .selectFrom("env_changes")
    .select(["type", "object"])
    .where("env_id", "=", envId)
    .orderBy("rv", "desc")
    .limit(1)
    .executeTakeFirst();
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
