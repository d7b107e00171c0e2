// The watch recorder's pass when replicas share one log (PostgreSQL).
//
// Each replica records only the changes it made itself (its ChangeFeed's local emits): every
// writer signals its own feed right after its write, so one recorder per change suffices, and a
// change heard from another replica costs this one no statement. (Recording on every replica cost
// a row read, a locked transaction and a max(rv) per change per replica.)
//
// What makes that safe is that rows are read under the log's lock, in the same transaction as
// the append: whichever pass locks last reads the row as the last writer left it, so the log's
// newest entry of an environment always ends equal to its row, however replicas interleave. A
// baseline kept in memory is not trusted here: another replica may have recorded since.
//
// The gap this leaves: a replica that dies between a write and its pass leaves that change
// unrecorded until the environment changes again or a replica diffs everything (at start, and
// when its change-bus connection comes back).
import type { Db } from "../store/db.ts";
import { lockWatchLog } from "../store/queries/admission-lock.ts";
import {
  appendEnvChangesNotifying,
  type EnvChangeType,
  envsWithLatestChange,
  latestEnvChanges,
  latestEnvChangesOf,
} from "../store/queries/env-changes.ts";
import { type EnvRow, listEnvs, toEnvironment } from "../store/queries/envs.ts";

interface Logged {
  type: EnvChangeType;
  object: string;
  org_id: string | null;
  owner_id: string | null;
}

interface Append {
  envId: string;
  type: EnvChangeType;
  object: string;
  orgId: string | null;
  ownerId: string | null;
}

/** What to record for an environment given the log's newest entry; undefined: already recorded. */
export function againstLog(
  latest: { type: EnvChangeType; object: string } | undefined,
  now: { json: string } | undefined,
): EnvChangeType | undefined {
  const present = latest !== undefined && latest.type !== "DELETED";
  if (now === undefined) return present ? "DELETED" : undefined;
  if (present && latest.object === now.json) return undefined;
  return present ? "MODIFIED" : "ADDED";
}

function fromRow(row: EnvRow, latest: Logged | undefined): Append | undefined {
  const json = JSON.stringify(toEnvironment(row));
  const type = againstLog(latest, { json });
  if (type === undefined) return undefined;
  const owned = row as EnvRow & { org_id?: string | null; owner_id?: string | null };
  return { envId: row.id, type, object: json, orgId: owned.org_id ?? null, ownerId: owned.owner_id ?? null };
}

function deleted(envId: string, latest: Logged | undefined): Append | undefined {
  if (latest === undefined || againstLog(latest, undefined) === undefined) return undefined;
  return { envId, type: "DELETED", object: latest.object, orgId: latest.org_id, ownerId: latest.owner_id };
}

/**
 * Records, under the shared log's lock, what changed in the named environments (or in all of
 * them) since the log's newest entries. Returns the newest version appended, or undefined.
 */
export async function recordUnderLock(
  db: Db,
  dirty: { all: boolean; ids: ReadonlySet<string> },
  at: string,
): Promise<number | undefined> {
  if (!dirty.all && dirty.ids.size === 0) return undefined;
  return db.transaction().execute(async (trx) => {
    await lockWatchLog(trx);
    const out: Append[] = [];
    if (dirty.all) {
      // Rare (a start, a change-bus reconnect): the whole table against the whole log.
      const logged = new Map((await latestEnvChanges(trx)).map((c) => [c.env_id, c]));
      const seen = new Set<string>();
      for (const row of await listEnvs(trx)) {
        seen.add(row.id);
        const a = fromRow(row, logged.get(row.id));
        if (a) out.push(a);
      }
      for (const [id, c] of logged) {
        const a = seen.has(id) ? undefined : deleted(id, c);
        if (a) out.push(a);
      }
    } else {
      const ids = [...dirty.ids];
      const rows = await envsWithLatestChange(trx, ids);
      const found = new Set<string>();
      for (const row of rows) {
        found.add(row.id);
        const latest =
          row.log_type === null || row.log_object === null
            ? undefined
            : { type: row.log_type, object: row.log_object, org_id: null, owner_id: null };
        const a = fromRow(row, latest);
        if (a) out.push(a);
      }
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length > 0) {
        const logged = await latestEnvChangesOf(trx, missing);
        for (const id of missing) {
          const a = deleted(id, logged.get(id));
          if (a) out.push(a);
        }
      }
    }
    return appendEnvChangesNotifying(trx, out, at);
  });
}
