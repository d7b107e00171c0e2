// Named queries on idempotency_keys (migration 006). The (principal, key) primary key is the
// concurrency guard: claim() inserts first, so of two racing requests exactly one wins.
import type { Selectable } from "kysely";
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
    })
    .onConflict((oc) => oc.columns(["principal", "key"]).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
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

export async function completeIdempotencyKey(
  db: Queryable,
  principal: string,
  key: string,
  status: number,
  response: string,
): Promise<void> {
  await db
    .updateTable("idempotency_keys")
    .set({ state: "done", status, response })
    .where("principal", "=", principal)
    .where("key", "=", key)
    .execute();
}

/** Forgets a claim, e.g. after a 5xx, so the client's retry runs the request again. */
export async function releaseIdempotencyKey(db: Queryable, principal: string, key: string): Promise<void> {
  await db.deleteFrom("idempotency_keys").where("principal", "=", principal).where("key", "=", key).execute();
}

/** Deletes keys created before `before` (ISO time). Returns how many went. */
export async function sweepIdempotencyKeys(db: Queryable, before: string): Promise<number> {
  const res = await db.deleteFrom("idempotency_keys").where("created_at", "<", before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
