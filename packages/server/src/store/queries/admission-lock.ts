// Advisory locks for the rare writes that must not interleave across control-plane replicas on
// PostgreSQL (SQLite runs one write transaction at a time already). Creates take none: they are
// admitted by the runner's capacity row and slot free list (fleet-admission.ts). Moving
// environments between runners (a host back under a new token) locks both runners' admission
// keys, so two replicas re-attaching the same host cannot move its environments twice.
import { PostgresAdapter, sql } from "kysely";
import type { Queryable } from "./envs.ts";

/** Arbitrary, fixed: the advisory-lock keys. */
const ADMISSION_LOCK_KEY = 0x5741_5252; // "WARR"
const WATCH_LOG_LOCK_KEY = 0x5741_5253;

const isPostgres = (db: Queryable): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Admission to several runners at once (moving environments between them), in one round trip.
 * The locks are taken in the order of their keys, so two callers cannot each hold a lock the
 * other waits for.
 */
export async function lockAdmissions(trx: Queryable, runnerIds: string[]): Promise<void> {
  if (!isPostgres(trx) || runnerIds.length === 0) return;
  await sql`select pg_advisory_xact_lock(${ADMISSION_LOCK_KEY}, k.h)
    from (select distinct hashtext(x) as h from unnest(${runnerIds}::text[]) as x order by h) as k`.execute(
    trx,
  );
}

/** Replicas append to the watch log one at a time, each checking what the others recorded. */
export async function lockWatchLog(trx: Queryable): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(${WATCH_LOG_LOCK_KEY})`.execute(trx);
}
