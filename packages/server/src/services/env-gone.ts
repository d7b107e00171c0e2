// Waiting for an environment's row to go, for readers that would otherwise wait forever on a
// removed environment (a followed log). Woken by the change feed, with a poll as the backstop
// for a missed change.
import { type Clock, sleep } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { getEnvById } from "../store/queries/envs.ts";
import type { ChangeFeed } from "./changes.ts";

export interface GoneWatchOptions {
  db: Db;
  changes: ChangeFeed;
  clock: Clock;
  pollMs: number;
}

/** Resolves true once the row is gone, or false when `signal` aborts first. */
export async function untilEnvGone(o: GoneWatchOptions, id: string, signal: AbortSignal): Promise<boolean> {
  // One change waiter at a time: a follow can last days, and a waiter per poll would pile up.
  let changed = o.changes.changedSinceFor(id, o.changes.version).then(() => true);
  while (!signal.aborted) {
    if (!(await getEnvById(o.db, id))) return true;
    const woke = await Promise.race([
      changed,
      sleep(o.clock, o.pollMs, signal).then(
        () => false,
        () => false,
      ),
    ]);
    if (woke) changed = o.changes.changedSinceFor(id, o.changes.version).then(() => true);
  }
  return false;
}
