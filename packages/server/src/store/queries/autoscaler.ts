// Named queries of the runner autoscaler (controllers/autoscaler/): what a pass reads about a
// pool, its remembered state and lease, its hosts, and the few guarded writes its actions make.
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import type { PoolRunner } from "../../controllers/autoscaler/plan.ts";
import { hashToken, newTokenSecret } from "../../services/tokens.ts";
import type {
  AutoscalerHostState,
  AutoscalerHostsTable,
  AutoscalerStateTable,
} from "../schema-autoscaler.ts";
import type { Queryable } from "./envs.ts";
import { insertToken, revokeTokenTree } from "./identity.ts";

/** The organisation's runners with their capacity and how many environment rows each holds. */
export async function poolRunners(db: Queryable, orgId: string): Promise<PoolRunner[]> {
  const rows = await db
    .selectFrom("runners as r")
    .leftJoin("runner_capacity as c", "c.runner_id", "r.id")
    .select((eb) => [
      "r.id",
      "r.name",
      "r.hostname",
      "r.schedule",
      "r.replica",
      "r.unreachable_since",
      "c.cpus",
      "c.memory_bytes",
      "c.alloc_cpus",
      "c.alloc_memory_bytes",
      eb
        .selectFrom("environments as e")
        .select((e) => e.fn.countAll<number>().as("n"))
        .whereRef("e.runner_id", "=", "r.id")
        .as("env_count"),
    ])
    .where("r.org_id", "=", orgId)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name ?? r.hostname,
    schedule: r.schedule,
    connected: r.replica !== null && r.unreachable_since === null,
    capacity: { cpus: Number(r.cpus ?? 0), memoryBytes: Number(r.memory_bytes ?? 0) },
    allocated: { cpus: Number(r.alloc_cpus ?? 0), memoryBytes: Number(r.alloc_memory_bytes ?? 0) },
    envCount: Number(r.env_count ?? 0),
  }));
}

/** Unplaceable creates of the organisation since `since` (ISO). */
export async function demandSince(
  db: Queryable,
  orgId: string,
  since: string,
): Promise<{ count: number; cpus: number; memoryBytes: number }> {
  const r = await db
    .selectFrom("fleet_demand")
    .select((eb) => [
      eb.fn.countAll<number>().as("n"),
      eb.fn.sum<number>("cpus").as("cpus"),
      eb.fn.sum<number>("memory_bytes").as("mem"),
    ])
    .where("org_id", "=", orgId)
    .where("at", ">", since)
    .executeTakeFirst();
  return { count: Number(r?.n ?? 0), cpus: Number(r?.cpus ?? 0), memoryBytes: Number(r?.mem ?? 0) };
}

export function readPoolState(db: Queryable, pool: string): Promise<AutoscalerStateTable | undefined> {
  return db.selectFrom("autoscaler_state").selectAll().where("pool", "=", pool).executeTakeFirst();
}

/**
 * Takes (or renews) the pool's lease for `holder` until `until`: true when this replica may act.
 * One conditional update, so two replicas never both hold it.
 */
export async function claimPoolLease(
  db: Queryable,
  o: { pool: string; orgId: string; holder: string; now: string; until: string },
): Promise<boolean> {
  await db
    .insertInto("autoscaler_state")
    .values({ pool: o.pool, org_id: o.orgId, at: o.now, desired: 0, current: 0, decision: "" })
    .onConflict((oc) => oc.column("pool").doNothing())
    .execute();
  const r = await db
    .updateTable("autoscaler_state")
    .set({ holder: o.holder, lease_until: o.until, org_id: o.orgId })
    .where("pool", "=", o.pool)
    .where((eb) =>
      eb.or([eb("holder", "is", null), eb("holder", "=", o.holder), eb("lease_until", "<", o.now)]),
    )
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function writePoolDecision(
  db: Queryable,
  pool: string,
  holder: string,
  d: Pick<
    AutoscalerStateTable,
    "desired" | "current" | "utilization" | "decision" | "at" | "last_up_at" | "last_down_at" | "below_since"
  >,
): Promise<void> {
  await db
    .updateTable("autoscaler_state")
    .set(d)
    .where("pool", "=", pool)
    .where("holder", "=", holder)
    .execute();
}

/** Hosts of the pool still in play (not deleted, not failed). */
export function liveHosts(db: Queryable, pool: string): Promise<AutoscalerHostsTable[]> {
  return db
    .selectFrom("autoscaler_hosts")
    .selectAll()
    .where("pool", "=", pool)
    .where("state", "not in", ["deleted", "failed"])
    .orderBy("created_at")
    .execute();
}

export function insertHost(db: Queryable, row: AutoscalerHostsTable): Promise<unknown> {
  return db.insertInto("autoscaler_hosts").values(row).execute();
}

export function setHostState(
  db: Queryable,
  requestId: string,
  state: AutoscalerHostState,
  now: string,
  extra: { provider_id?: string; error?: string | null } = {},
): Promise<unknown> {
  return db
    .updateTable("autoscaler_hosts")
    .set({ state, updated_at: now, ...extra })
    .where("request_id", "=", requestId)
    .execute();
}

/**
 * A runner token for one new host, minted by the autoscaler (no user made it): it works only
 * until `expiresAt`, so a host that never joins leaves nothing usable behind.
 */
export async function mintHostToken(
  db: Queryable,
  o: { orgId: string; name: string; now: string; expiresAt: string },
): Promise<{ id: string; token: string }> {
  const token = newTokenSecret("runner");
  const id = `tok_${randomBytes(8).toString("hex")}`;
  await insertToken(db, {
    id,
    kind: "runner",
    name: o.name.slice(0, 200),
    hash: hashToken(token),
    org_id: o.orgId,
    user_id: null,
    created_by: "autoscaler",
    created_at: o.now,
    expires_at: o.expiresAt,
    revoked_at: null,
    parent_id: null,
    scopes: "",
  });
  return { id, token };
}

/** Its host joined: the token becomes the runner's credential, living as long as a runner token does. */
export async function extendHostToken(db: Queryable, tokenId: string, expiresAt: string): Promise<void> {
  await db
    .updateTable("api_tokens")
    .set({ expires_at: expiresAt })
    .where("id", "=", tokenId)
    .where("revoked_at", "is", null)
    .where("expires_at", "<", expiresAt)
    .execute();
}

export function revokeHostToken(db: Queryable, tokenId: string, now: string): Promise<string[]> {
  return revokeTokenTree(db, [tokenId], now);
}

/** Cordons a runner for removal, only while it holds no environment row at all. */
export async function drainIfEmpty(db: Queryable, runnerId: string): Promise<boolean> {
  const r = await db
    .updateTable("runners")
    .set({ schedule: "draining" })
    .where("id", "=", runnerId)
    .where("schedule", "=", "active")
    .where((eb) =>
      eb.not(
        eb.exists(eb.selectFrom("environments").select(sql.lit(1).as("x")).where("runner_id", "=", runnerId)),
      ),
    )
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function undrain(db: Queryable, runnerId: string): Promise<void> {
  await db
    .updateTable("runners")
    .set({ schedule: "active" })
    .where("id", "=", runnerId)
    .where("schedule", "=", "draining")
    .execute();
}

export async function envCountOn(db: Queryable, runnerId: string): Promise<number> {
  const r = await db
    .selectFrom("environments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("runner_id", "=", runnerId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** A deleted host's runner leaves the fleet: its rows go, unless an environment row names it. */
export async function forgetRunner(db: Queryable, runnerId: string): Promise<boolean> {
  if ((await envCountOn(db, runnerId)) > 0) return false;
  await db.deleteFrom("runner_slots").where("runner_id", "=", runnerId).execute();
  await db.deleteFrom("runner_capacity").where("runner_id", "=", runnerId).execute();
  await db.deleteFrom("runners").where("id", "=", runnerId).execute();
  return true;
}
