// Writes that ride on a request's idempotency record. A create with an Idempotency-Key ends with
// two writes: the answer kept for replays (http/idempotency.ts) and the audit record
// (http/audit-hook.ts). Committed together they cost one synced commit instead of two. The audit
// hook's onSend runs first (http/build.ts installs it before the guards) and hands its write over;
// the idempotency hook's onSend then commits both.
import type { FastifyRequest } from "fastify";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";

export interface RidingWrite {
  write(db: Queryable): Promise<void>;
  /** The write failed on its own (never fails the answer). */
  failed(err: unknown): void;
}

const settling = new WeakMap<FastifyRequest, RidingWrite[]>();

/** `req` holds an idempotency claim whose record is written when its answer is sent. */
export function expectSettle(req: FastifyRequest): void {
  settling.set(req, []);
}

/** Rides `w` on req's idempotency write if one is still to come; false: write it yourself. */
export function rideSettle(req: FastifyRequest, w: RidingWrite): boolean {
  const rides = settling.get(req);
  if (!rides) return false;
  rides.push(w);
  return true;
}

/** The writes riding on req's settle; later ones are written by their owners. */
export function takeRides(req: FastifyRequest): RidingWrite[] {
  const rides = settling.get(req) ?? [];
  settling.delete(req);
  return rides;
}

/**
 * `settle` and the rides in one transaction. Should that fail, each again on its own, so a
 * failing ride costs neither the settle nor the answer (as when they were written apart).
 */
export async function settleWith(
  db: Db,
  rides: readonly RidingWrite[],
  settle: (q: Queryable) => Promise<void>,
): Promise<void> {
  if (rides.length === 0) return settle(db);
  try {
    await db.transaction().execute(async (trx) => {
      for (const r of rides) await r.write(trx);
      await settle(trx);
    });
    return;
  } catch {
    // retried apart below: the settle's own error, if any, reaches the caller from there
  }
  await settle(db);
  await runRides(db, rides);
}

/** The rides on their own (the settle was a release, or there was none). */
export async function runRides(db: Db, rides: readonly RidingWrite[]): Promise<void> {
  for (const r of rides) {
    try {
      await r.write(db);
    } catch (err) {
      r.failed(err);
    }
  }
}
