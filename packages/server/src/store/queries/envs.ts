// Named, typed queries on the environments table. Each takes the Db (or a transaction).
import type {
  ActivityKind,
  Condition,
  DesiredState,
  EnvIdle,
  Environment,
  EnvObserved,
  EnvState,
  RuntimeName,
} from "@warren/protocol";
import { type RawBuilder, type Selectable, sql, type Transaction } from "kysely";
import type { Db } from "../db.ts";
import { POOL_OWNER_ID } from "../migrations/035_warm_pools.ts";
import type { EnvironmentsTable, Schema } from "../schema.ts";
import { egressFromColumn } from "./egress.ts";
import { parseSetup, publicSetup } from "./setups.ts";

export type Queryable = Db | Transaction<Schema>;
export type EnvRow = Selectable<EnvironmentsTable>;

export function toEnvironment(row: EnvRow): Environment {
  const env: Environment = {
    id: row.id,
    name: row.name,
    spec: {
      name: row.name,
      className: row.class_name,
      image: row.image,
      runtime: row.runtime as RuntimeName,
      resources: { cpus: row.cpus, memoryBytes: row.memory_bytes, diskBytes: row.disk_bytes, pids: row.pids },
      egress: egressFromColumn(row.egress),
      ...(row.project ? { project: row.project } : {}),
      user: row.user_name,
    },
    desired: row.desired,
    state: row.state,
    conditions: parseConditions(row),
    slot: row.slot,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    idle: idleOf(row),
  };
  const setup = parseSetup(row);
  if (setup) env.setup = publicSetup(setup);
  if (row.placement) env.placement = row.placement;
  return env;
}

/** Idle stop's view (migration 023): the deadline only while it is meant to run. */
function idleOf(row: EnvRow): EnvIdle {
  const idle: EnvIdle = { timeoutSeconds: row.idle_timeout_s ?? null };
  if (row.last_activity_at && row.last_activity_kind) {
    idle.lastActivity = {
      kind: row.last_activity_kind as ActivityKind,
      at: row.last_activity_at,
      source: row.last_activity_source ?? "",
    };
  }
  if (row.idle_deadline && row.desired === "running" && idle.timeoutSeconds !== null)
    idle.stopDeadline = row.idle_deadline;
  return idle;
}

export function parseConditions(row: Pick<EnvRow, "conditions">): Condition[] {
  return JSON.parse(row.conditions) as Condition[];
}

export function parseObserved(row: Pick<EnvRow, "observed">): EnvObserved | undefined {
  return row.observed ? (JSON.parse(row.observed) as EnvObserved) : undefined;
}

export function listEnvs(db: Queryable): Promise<EnvRow[]> {
  return db.selectFrom("environments").selectAll().orderBy("created_at").orderBy("name").execute();
}

export async function listEnvIds(db: Queryable): Promise<string[]> {
  const rows = await db.selectFrom("environments").select("id").execute();
  return rows.map((r) => r.id);
}

export function getEnvById(db: Queryable, id: string): Promise<EnvRow | undefined> {
  return db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Names are unique per organisation (migration 009), so a name means something only within one:
 * `orgId` is the organisation to look in. Undefined matches any organisation's (the first by
 * creation), which only tests and single-organisation tools should rely on.
 */
export function getEnvByName(db: Queryable, name: string, orgId?: string): Promise<EnvRow | undefined> {
  let q = db.selectFrom("environments").selectAll().where("name", "=", name);
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  return q.orderBy("created_at").orderBy("id").executeTakeFirst();
}

/**
 * Users may address an environment by name (within `orgId`) or by id (unique on the server);
 * names win because they are what users type. The caller still checks the row is visible.
 */
export async function findEnv(db: Queryable, nameOrId: string, orgId?: string): Promise<EnvRow | undefined> {
  return (await getEnvByName(db, nameOrId, orgId)) ?? (await getEnvById(db, nameOrId));
}

/** `owner` is the organisation and user it belongs to (migration 005); the store defaults both. */
export async function insertEnv(
  db: Queryable,
  row: EnvRow,
  owner?: { org_id: string; owner_id: string },
): Promise<void> {
  await db
    .insertInto("environments")
    .values({ ...row, ...owner })
    .execute();
}

/**
 * A runner's reserved disk and highest slot in one round trip, for create's admission. Both are
 * the runner's own: another runner's environments use another host's disk and id range.
 */
export async function admissionTotals(
  db: Queryable,
  runnerId: string,
): Promise<{ reserved: number; topSlot: number | null }> {
  const r = await db
    .selectNoFrom((eb) => [
      eb.selectFrom("runner_totals").select("disk_bytes").where("runner_id", "=", runnerId).as("reserved"),
      eb
        .selectFrom("environments")
        .select((e) => e.fn.max("slot").as("m"))
        .where("runner_id", "=", runnerId)
        .as("top"),
    ])
    .executeTakeFirstOrThrow();
  return {
    reserved: r.reserved === null || r.reserved === undefined ? 0 : Number(r.reserved),
    topSlot: r.top === null || r.top === undefined ? null : Number(r.top),
  };
}

/** A slot no environment of the runner holds (slots index its uid blocks); below `capacity` when one is free. */
export async function lowestFreeSlot(
  db: Queryable,
  runnerId: string,
  capacity = Number.POSITIVE_INFINITY,
  /** The runner's highest slot taken, when the caller has read it already (undefined: read it here). */
  knownTop?: number | null,
): Promise<number> {
  // The slot above the highest is one index probe; a gap search walks the index. So take the top
  // while the range has room there, and look for gaps (freed slots) only once it is full: with
  // thousands of environments the walk was a visible share of each create (bench/api).
  // Every probe is on the (runner_id, slot) unique index.
  const highest =
    knownTop !== undefined
      ? knownTop
      : ((
          await db
            .selectFrom("environments")
            .select((eb) => eb.fn.max("slot").as("max"))
            .where("runner_id", "=", runnerId)
            .executeTakeFirst()
        )?.max ?? null);
  const next = highest === null ? 0 : Number(highest) + 1;
  if (next < capacity) return next;
  const zero = await db
    .selectFrom("environments")
    .select("slot")
    .where("runner_id", "=", runnerId)
    .where("slot", "=", 0)
    .executeTakeFirst();
  if (!zero) return 0;
  const gap = await db
    .selectFrom("environments as e")
    .select((eb) => eb(eb.ref("e.slot"), "+", 1).as("free"))
    .where("e.runner_id", "=", runnerId)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("environments as f")
            .select("f.slot")
            .where(sql<boolean>`f.runner_id = e.runner_id and f.slot = e.slot + 1`),
        ),
      ),
    )
    .orderBy("e.slot")
    .limit(1)
    .executeTakeFirstOrThrow();
  return Number(gap.free);
}

export interface DesiredChange {
  desired: DesiredState;
  stopGraceMs?: number;
  now: string;
}

/**
 * Records a new intent. A failed environment gets a fresh start (pending, conditions cleared):
 * failure is terminal only until the user asks again.
 */
export async function setDesired(db: Queryable, id: string, change: DesiredChange): Promise<void> {
  const row = await getEnvById(db, id);
  if (!row) return;
  const retryFailed = row.state === "failed";
  await db
    .updateTable("environments")
    .set((eb) => ({
      desired: change.desired,
      stop_grace_ms: change.stopGraceMs ?? row.stop_grace_ms,
      generation: eb("generation", "+", 1),
      updated_at: change.now,
      ...(retryFailed ? { state: "pending" as EnvState, conditions: "[]" } : {}),
    }))
    .where("id", "=", id)
    .execute();
}

export interface StateChange {
  state: EnvState;
  conditions?: Condition[];
  observed?: EnvObserved | null;
  now: string;
  /** Write only if no new intent arrived since the pass read the row. */
  ifGeneration?: number;
  /** The idle-stop deadline to store in the same write (queries/idle.ts idleDeadlineFromStart). */
  idleDeadline?: RawBuilder<string | null>;
}

/** Returns false when `ifGeneration` no longer matches (or the row is gone). */
export async function setState(db: Queryable, id: string, change: StateChange): Promise<boolean> {
  let q = db
    .updateTable("environments")
    .set({
      state: change.state,
      updated_at: change.now,
      ...(change.conditions ? { conditions: JSON.stringify(change.conditions) } : {}),
      ...(change.observed !== undefined
        ? { observed: change.observed ? JSON.stringify(change.observed) : null }
        : {}),
      ...(change.idleDeadline ? { idle_deadline: change.idleDeadline } : {}),
    })
    .where("id", "=", id);
  if (change.ifGeneration !== undefined) q = q.where("generation", "=", change.ifGeneration);
  const r = await q.executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function setConditions(db: Queryable, id: string, conditions: Condition[]): Promise<void> {
  await db
    .updateTable("environments")
    .set({ conditions: JSON.stringify(conditions) })
    .where("id", "=", id)
    .execute();
}

export async function setObserved(db: Queryable, id: string, observed: EnvObserved | null): Promise<void> {
  await db
    .updateTable("environments")
    .set({ observed: observed ? JSON.stringify(observed) : null })
    .where("id", "=", id)
    .execute();
}

export async function deleteEnv(db: Queryable, id: string): Promise<void> {
  await db.deleteFrom("environments").where("id", "=", id).execute();
}

/** Names of the environments that use a class; `orgId` limits them to that organisation's. */
export async function countEnvsOfClass(db: Queryable, className: string, orgId?: string): Promise<string[]> {
  let q = db
    .selectFrom("environments")
    .select("name")
    .where("class_name", "=", className)
    // Unclaimed warm-pool members do not hold a class: its pool empties when the class goes.
    .where("owner_id", "!=", POOL_OWNER_ID);
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  const rows = await q.execute();
  return rows.map((r) => r.name);
}
