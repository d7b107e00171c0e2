// Named queries on idempotency_keys (migrations 006 and 020). The (principal, key) primary key is
// the concurrency guard: claim() inserts first, so of two racing requests exactly one wins; taking
// over a dead instance's claim is a compare-and-set on the holder and lease it was seen with, so
// of two racing retries exactly one wins that too.
import { PostgresAdapter, type Selectable } from "kysely";
import type { IdempotencyKeysTable } from "../schema.ts";
import type { Queryable } from "./envs.ts";

export type IdempotencyRow = Selectable<IdempotencyKeysTable>;

export interface ClaimInput {
  principal: string;
  key: string;
  method: string;
  path: string;
  bodyHash: string;
  now: string;
  /** The server instance claiming it (a random id per start). */
  instance: string;
  /** ISO time until which the claim is alive without a refresh. */
  leaseUntil: string;
}

/** Inserts an in-flight row. Returns true if this call claimed the key, false if a row exists. */
export async function claimIdempotencyKey(db: Queryable, c: ClaimInput): Promise<boolean> {
  const res = await db
    .insertInto("idempotency_keys")
    .values({
      principal: c.principal,
      key: c.key,
      method: c.method,
      path: c.path,
      body_hash: c.bodyHash,
      state: "in_flight",
      status: null,
      response: null,
      created_at: c.now,
      claimed_by: c.instance,
      lease_until: c.leaseUntil,
    })
    .onConflict((oc) => oc.columns(["principal", "key"]).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * Takes over the in-flight claim `seen` (read a moment ago) for `c.instance`, if nobody changed it
 * since: its holder is gone. Returns true if this call now holds the claim.
 */
export async function takeOverIdempotencyKey(
  db: Queryable,
  seen: IdempotencyRow,
  c: ClaimInput,
): Promise<boolean> {
  let q = db
    .updateTable("idempotency_keys")
    .set({ claimed_by: c.instance, lease_until: c.leaseUntil, created_at: c.now })
    .where("principal", "=", seen.principal)
    .where("key", "=", seen.key)
    .where("state", "=", "in_flight");
  q =
    seen.claimed_by === null
      ? q.where("claimed_by", "is", null)
      : q.where("claimed_by", "=", seen.claimed_by);
  q =
    seen.lease_until === null
      ? q.where("lease_until", "is", null)
      : q.where("lease_until", "=", seen.lease_until);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Extends the lease of every claim `instance` holds; its requests are still running. */
export async function renewIdempotencyClaims(
  db: Queryable,
  instance: string,
  leaseUntil: string,
): Promise<number> {
  const res = await db
    .updateTable("idempotency_keys")
    .set({ lease_until: leaseUntil })
    .where("claimed_by", "=", instance)
    .where("state", "=", "in_flight")
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/**
 * Whether other server processes may share this store. PostgreSQL serves many replicas; a SQLite
 * store belongs to the one daemon that holds its lock, so any other instance's claim is a dead one's.
 */
export function storeIsShared(db: Queryable): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

export function getIdempotencyKey(
  db: Queryable,
  principal: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  return db
    .selectFrom("idempotency_keys")
    .selectAll()
    .where("principal", "=", principal)
    .where("key", "=", key)
    .executeTakeFirst();
}

/** Records the outcome, if `instance` still holds the claim (another may have taken it over). */
export async function completeIdempotencyKey(
  db: Queryable,
  principal: string,
  key: string,
  status: number,
  response: string,
  instance: string,
): Promise<void> {
  await db
    .updateTable("idempotency_keys")
    .set({ state: "done", status, response, claimed_by: null, lease_until: null })
    .where("principal", "=", principal)
    .where("key", "=", key)
    .where("claimed_by", "=", instance)
    .execute();
}

/**
 * Forgets a claim, e.g. after a 5xx, so the client's retry runs the request again. With `instance`,
 * only while that instance holds it; without, whatever the row (an expired key).
 */
export async function releaseIdempotencyKey(
  db: Queryable,
  principal: string,
  key: string,
  instance?: string,
): Promise<void> {
  let q = db.deleteFrom("idempotency_keys").where("principal", "=", principal).where("key", "=", key);
  if (instance !== undefined) q = q.where("claimed_by", "=", instance);
  await q.execute();
}

/** Deletes keys created before `before` (ISO time). Returns how many went. */
export async function sweepIdempotencyKeys(db: Queryable, before: string): Promise<number> {
  const res = await db.deleteFrom("idempotency_keys").where("created_at", "<", before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
