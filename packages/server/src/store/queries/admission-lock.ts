// Serialises admission (name, slot, disk and quota checks, then the insert) across control-plane
// replicas. SQLite already runs one write transaction at a time; PostgreSQL's default READ
// COMMITTED lets two replicas read the same free slot and both insert (measured: duplicate key on
// environments_slot_key with 200 concurrent creates over two servers). A transaction-scoped
// advisory lock gives PostgreSQL the same one-at-a-time admission, released at commit/rollback.
import { PostgresAdapter, sql } from "kysely";
import type { Queryable } from "./envs.ts";

/** Arbitrary, fixed: the advisory-lock key of environment admission. */
const ADMISSION_LOCK_KEY = 0x5741_5252; // "WARR"

export async function lockAdmission(trx: Queryable): Promise<void> {
  if (!(trx.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`select pg_advisory_xact_lock(${ADMISSION_LOCK_KEY})`.execute(trx);
}
