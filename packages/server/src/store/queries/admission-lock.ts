// Serialises admission (name, slot, disk and quota checks, then the insert) across control-plane
// replicas. SQLite already runs one write transaction at a time; PostgreSQL's default READ
// COMMITTED lets two replicas read the same free slot and both insert (measured: duplicate key on
// the slot's unique constraint with 200 concurrent creates over two servers). A transaction-scoped
// advisory lock gives PostgreSQL the same one-at-a-time admission, released at commit/rollback.
//
// Slots and reserved disk belong to one runner, so admission is serialised per runner: creates
// for different runners (different organisations) no longer wait on each other. Names and quotas
// are per organisation, and an organisation is served by one runner, so the runner's lock covers
// them too; a scheduler that spreads one organisation over many runners must also lock the
// organisation (or check quotas under a lock of their own).
import { PostgresAdapter, sql } from "kysely";
import type { Queryable } from "./envs.ts";

/** Arbitrary, fixed: the advisory-lock keys. */
const ADMISSION_LOCK_KEY = 0x5741_5252; // "WARR"
const WATCH_LOG_LOCK_KEY = 0x5741_5253;

const isPostgres = (db: Queryable): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Admission to one runner. The two-int4 form of the lock (class, hash of the runner id) lives in
 * a key space apart from the single-bigint locks below; two runner ids that hash alike only share
 * a queue, never a wrong answer.
 */
export async function lockAdmission(trx: Queryable, runnerId: string): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(${ADMISSION_LOCK_KEY}, hashtext(${runnerId}))`.execute(trx);
}

/**
 * Admission to several runners at once (moving environments between them), in one round trip.
 * The locks are taken in the order of their keys, and a create takes only one, so two callers
 * cannot each hold a lock the other waits for.
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
