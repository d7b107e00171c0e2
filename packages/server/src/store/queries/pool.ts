// Named queries on warm pools (migration 035) and their members: environment rows owned by
// POOL_OWNER_ID. The claim is the one that matters: a member goes to exactly one create, however
// many race for it on however many replicas.
import { sql } from "kysely";
import { POOL_OWNER_ID } from "../migrations/035_warm_pools.ts";
import type { WarmPoolsTable } from "../schema-pools.ts";
import type { EnvRow, Queryable } from "./envs.ts";
import { isPostgresDb } from "./fleet-admission.ts";

export type PoolRow = WarmPoolsTable;

export interface PoolKey {
  orgId: string;
  image: string;
  className: string;
}

export function listPools(db: Queryable, orgId?: string): Promise<PoolRow[]> {
  let q = db.selectFrom("warm_pools").selectAll();
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  return q.orderBy("org_id").orderBy("image").orderBy("class_name").execute();
}

export function getPool(db: Queryable, id: string): Promise<PoolRow | undefined> {
  return db.selectFrom("warm_pools").selectAll().where("id", "=", id).executeTakeFirst();
}

export function findPool(db: Queryable, k: PoolKey): Promise<PoolRow | undefined> {
  return db
    .selectFrom("warm_pools")
    .selectAll()
    .where("org_id", "=", k.orgId)
    .where("image", "=", k.image)
    .where("class_name", "=", k.className)
    .executeTakeFirst();
}

/** Inserts or replaces the size and schedule of the pool for its key; backoff starts afresh. */
export async function upsertPool(db: Queryable, row: PoolRow): Promise<void> {
  await db
    .insertInto("warm_pools")
    .values(row)
    .onConflict((oc) =>
      oc.columns(["org_id", "image", "class_name"]).doUpdateSet({
        min_size: row.min_size,
        max_size: row.max_size,
        schedule: row.schedule,
        failures: 0,
        retry_at: null,
        last_error: null,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}

export async function deletePool(db: Queryable, id: string): Promise<boolean> {
  const r = await db.deleteFrom("warm_pools").where("id", "=", id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function setPoolBackoff(
  db: Queryable,
  id: string,
  b: { failures: number; retryAt: string | null; lastError: string | null; now: string },
): Promise<void> {
  await db
    .updateTable("warm_pools")
    .set({ failures: b.failures, retry_at: b.retryAt, last_error: b.lastError, updated_at: b.now })
    .where("id", "=", id)
    .execute();
}

/** Every unclaimed member of the organisation's pools (any image or class), oldest first. */
export function listPoolMembers(db: Queryable, orgId?: string): Promise<EnvRow[]> {
  let q = db.selectFrom("environments").selectAll().where("owner_id", "=", POOL_OWNER_ID);
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  return q.orderBy("created_at").orderBy("id").execute();
}

export async function recentClaims(db: Queryable, poolId: string, since: string): Promise<number> {
  const r = await db
    .selectFrom("warm_pool_claims")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("pool_id", "=", poolId)
    .where("at", ">=", since)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function pruneClaims(db: Queryable, before: string): Promise<void> {
  await db.deleteFrom("warm_pool_claims").where("at", "<", before).execute();
}

/** Environments of the organisation's users waiting to start: pool work waits for them. */
export async function userStartsInFlight(db: Queryable, orgId: string): Promise<number> {
  const r = await db
    .selectFrom("environments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("owner_id", "!=", POOL_OWNER_ID)
    .where("desired", "=", "running")
    .where("state", "in", ["pending", "creating"])
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** What the claimed member becomes: its new owner's name and settings. */
export interface Takeover {
  name: string;
  ownerId: string;
  userName: string;
  idleTimeoutS: number | null;
  /** JSON Condition[] the claimed row starts with (the takeover marker, pool-claim.ts). */
  conditions: string;
  now: string;
}

/**
 * Atomically turns one ready member of the pool into `t.ownerId`'s environment and records the
 * claim; undefined when none is ready. PostgreSQL: the candidate is locked with FOR UPDATE SKIP
 * LOCKED, so racing claims each take a different member instead of queueing on one. SQLite: the
 * pick and the update run in one BEGIN IMMEDIATE transaction (the write lock is held from the
 * first read), and the update is conditional on the row still being the pool's all the same.
 * A name taken meanwhile fails the unique constraint (the caller falls back to a plain create).
 */
export async function claimMember(
  db: Queryable,
  pool: Pick<PoolRow, "id" | "org_id" | "image" | "class_name">,
  t: Takeover,
): Promise<EnvRow | undefined> {
  const pick = (q: Queryable) => {
    let s = q
      .selectFrom("environments")
      .select("id")
      .where("org_id", "=", pool.org_id)
      .where("owner_id", "=", POOL_OWNER_ID)
      .where("image", "=", pool.image)
      .where("class_name", "=", pool.class_name)
      .where("desired", "=", "running")
      .where("state", "=", "running")
      .orderBy("created_at")
      .orderBy("id")
      .limit(1);
    if (isPostgresDb(q)) s = s.forUpdate().skipLocked();
    return s.executeTakeFirst();
  };
  const take = async (q: Queryable, id: string): Promise<EnvRow | undefined> => {
    const row = await q
      .updateTable("environments")
      .set({
        name: t.name,
        // The ownership columns are insert-only in the row type: only a claim moves them.
        owner_id: t.ownerId as never,
        user_name: t.userName,
        idle_timeout_s: t.idleTimeoutS,
        conditions: t.conditions,
        idle_deadline: null,
        last_activity_at: null,
        last_activity_kind: null,
        last_activity_source: null,
        generation: sql<number>`generation + 1`,
        created_at: t.now,
        updated_at: t.now,
      })
      .where("id", "=", id)
      .where("owner_id", "=", POOL_OWNER_ID)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await q.insertInto("warm_pool_claims").values({ pool_id: pool.id, env_id: id, at: t.now }).execute();
    await q
      .updateTable("warm_pools")
      .set({ claims_total: sql<number>`claims_total + 1` })
      .where("id", "=", pool.id)
      .execute();
    return row as EnvRow;
  };
  if (isPostgresDb(db)) {
    return db.transaction().execute(async (trx) => {
      const c = await pick(trx);
      return c ? take(trx, c.id) : undefined;
    });
  }
  // SQLite: one connection, the dialect's mutex keeps it ours until commit or rollback.
  return (db as Exclude<Queryable, { isTransaction: true }>).connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const c = await pick(conn);
      const row = c ? await take(conn, c.id) : undefined;
      await sql`commit`.execute(conn);
      return row;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}

/** Claimed rows whose takeover on the runner has not been seen to finish (a crash in between). */
export function pendingTakeovers(db: Queryable, marker: string): Promise<EnvRow[]> {
  return db
    .selectFrom("environments")
    .selectAll()
    .where("owner_id", "!=", POOL_OWNER_ID)
    .where("desired", "=", "running")
    .where("conditions", "like", `%"${marker}"%`)
    .execute();
}
