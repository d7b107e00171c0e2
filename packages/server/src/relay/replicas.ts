// Named queries for relays (migration 033): each replica's internal listener, and which replica a
// live call must be relayed to (the one holding the environment's runner, or for calls about an
// organisation's images, one holding a runner of that organisation).
import type { Db } from "../store/db.ts";

/** A replica row not refreshed for this long belongs to a replica that stopped or died. */
export const REPLICA_STALE_MS = 30_000;
/** A runner row whose holder has not touched it for this long is not held anywhere. */
export const RUNNER_STALE_MS = 45_000;
/** Rows of replicas gone this long are deleted by the next replica to start. */
const PRUNE_MS = 24 * 3600_000;

/** Where to relay a call: another replica's internal listener and the certificate it must present. */
export interface RelayPeer {
  replicaId: string;
  url: string;
  fingerprint: string;
}

export async function upsertReplica(
  db: Db,
  r: { id: string; url: string; fingerprint: string; certPem: string; now: Date },
): Promise<void> {
  const at = r.now.toISOString();
  const row = { internal_url: r.url, cert_fingerprint: r.fingerprint, cert_pem: r.certPem, seen_at: at };
  await db
    .insertInto("replicas")
    .values({ id: r.id, started_at: at, ...row })
    .onConflict((oc) => oc.column("id").doUpdateSet(row))
    .execute();
  await db
    .deleteFrom("replicas")
    .where("seen_at", "<", new Date(r.now.getTime() - PRUNE_MS).toISOString())
    .execute();
}

export async function touchReplica(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable("replicas").set({ seen_at: now.toISOString() }).where("id", "=", id).execute();
}

export async function removeReplica(db: Db, id: string): Promise<void> {
  await db.deleteFrom("replicas").where("id", "=", id).execute();
}

const since = (now: Date, ms: number) => new Date(now.getTime() - ms).toISOString();

/** The replica holding the environment's runner, when it is another live one with a listener. */
export async function peerHoldingEnv(
  db: Db,
  envId: string,
  self: string,
  now: Date,
): Promise<RelayPeer | undefined> {
  const row = await db
    .selectFrom("environments as e")
    .innerJoin("runners as r", "r.id", "e.runner_id")
    .innerJoin("replicas as p", "p.id", "r.replica")
    .select(["p.id", "p.internal_url", "p.cert_fingerprint"])
    .where("e.id", "=", envId)
    .where("p.id", "<>", self)
    .where("r.seen_at", ">", since(now, RUNNER_STALE_MS))
    .where("p.seen_at", ">", since(now, REPLICA_STALE_MS))
    .executeTakeFirst();
  return row && { replicaId: row.id, url: row.internal_url, fingerprint: row.cert_fingerprint };
}

/** Another live replica holding a runner of the organisation, most recently seen first. */
export async function peerHoldingOrg(
  db: Db,
  orgId: string,
  self: string,
  now: Date,
): Promise<RelayPeer | undefined> {
  const row = await db
    .selectFrom("runners as r")
    .innerJoin("replicas as p", "p.id", "r.replica")
    .select(["p.id", "p.internal_url", "p.cert_fingerprint"])
    .where("r.org_id", "=", orgId)
    .where("p.id", "<>", self)
    .where("r.seen_at", ">", since(now, RUNNER_STALE_MS))
    .where("p.seen_at", ">", since(now, REPLICA_STALE_MS))
    .orderBy("r.seen_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row && { replicaId: row.id, url: row.internal_url, fingerprint: row.cert_fingerprint };
}
