// Serialises admission (name, slot, disk and quota checks, then the insert) across control-plane
// replicas. SQLite already runs one write transaction at a time; PostgreSQL's default READ
// COMMITTED lets two replicas read the same free slot and both insert (measured: duplicate key on
// environments_slot_key with 200 concurrent creates over two servers). A transaction-scoped
// advisory lock gives PostgreSQL the same one-at-a-time admission, released at commit/rollback.
import { PostgresAdapter, sql } from "kysely";
import type { Queryable } from "./envs.ts";

/** Arbitrary, fixed: the advisory-lock keys. */
const ADMISSION_LOCK_KEY = 0x5741_5252; // "WARR"
const WATCH_LOG_LOCK_KEY = 0x5741_5253;

const isPostgres = (db: Queryable): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

export async function lockAdmission(trx: Queryable): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(${ADMISSION_LOCK_KEY})`.execute(trx);
}

/** Replicas append to the watch log one at a time, each checking what the others recorded. */
export async function lockWatchLog(trx: Queryable): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(${WATCH_LOG_LOCK_KEY})`.execute(trx);
}
