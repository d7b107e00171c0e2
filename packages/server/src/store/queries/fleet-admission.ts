// Admission to one runner (migration 031): its capacity row and its slot free list. Placement
// (scheduler/) picks a runner from snapshots that may lag; what is written here is the truth. A
// create claims the runner's lowest free slot and then locks the capacity row with a conditional
// UPDATE that matches only if the environment still fits, inside one short transaction that ends
// with the environment's insert (whose trigger adds to alloc_* and marks the slot taken). No
// advisory lock: two creates on one runner queue only on that row, for the insert's duration.
import type { RunnerInfo } from "@warren/protocol";
import { PostgresAdapter, sql } from "kysely";
import type { Queryable } from "./envs.ts";

/** A slot is one 65,536-id block of the runner's subordinate id range. */
export const SLOT_IDS = 65_536;

const isPostgres = (db: Queryable): boolean => db.getExecutor().adapter instanceof PostgresAdapter;
export const isPostgresDb = isPostgres;

/**
 * Free disk moves a little on every report (logs, caches): a change smaller than this does not
 * rewrite the row, so heartbeats stay reads.
 */
const DISK_DRIFT_BYTES = 256 * 1024 * 1024;

export interface RunnerCapacity {
  cpus: number;
  memoryBytes: number;
  /** What environment disks may reserve in all (see registerRunnerCapacity). */
  diskBytes: number;
  slots: number;
  alloc: { cpus: number; memoryBytes: number; diskBytes: number; envs: number };
}

/** The runner's slot count from its id range. */
export function slotsOf(info: Pick<RunnerInfo, "idRange">): number {
  return Math.max(0, Math.floor(info.idRange.size / SLOT_IDS));
}

/**
 * Records what a runner reported (at attach, on a heartbeat whose capacity changed, and for the
 * embedded runner at start): upserts its capacity row and makes sure slots 0..slots-1 exist in
 * its free list (free slots above a shrunk range are dropped; taken ones stay until their
 * environment goes). Cheap to call on every heartbeat: one indexed read when nothing changed.
 * Returns whether it wrote.
 */
export async function registerRunnerCapacity(
  db: Queryable,
  r: { runnerId: string; orgId: string; info: RunnerInfo },
): Promise<boolean> {
  const slots = slotsOf(r.info);
  const cpus = Math.max(0, r.info.cpus);
  const memoryBytes = Math.max(0, Math.floor(r.info.memoryBytes));
  const diskFree = Math.max(0, Math.floor(r.info.diskFreeBytes));
  const row = await db
    .selectFrom("runner_capacity")
    .select(["cpus", "memory_bytes", "disk_bytes", "slots"])
    .where("runner_id", "=", r.runnerId)
    .executeTakeFirst();
  // Environment disks are sparse files: creating one takes nothing from the free space it may
  // grow into. So reservations must fit in what is free now (as admission always counted), not
  // in free + allocated, which would grow with every create until a host is promised many times
  // its disk. Disks that fill up are then counted twice: refusing early, never over-admitting.
  const diskBytes = diskFree;
  if (
    row &&
    Number(row.cpus) === cpus &&
    Number(row.memory_bytes) === memoryBytes &&
    Number(row.slots) === slots &&
    Math.abs(Number(row.disk_bytes) - diskBytes) < DISK_DRIFT_BYTES
  )
    return false;
  const set = { org_id: r.orgId, cpus, memory_bytes: memoryBytes, disk_bytes: diskBytes, slots };
  await db
    .insertInto("runner_capacity")
    .values({ runner_id: r.runnerId, ...set })
    .onConflict((oc) => oc.column("runner_id").doUpdateSet(set))
    .execute();
  if (!row || Number(row.slots) !== slots) await ensureSlotRows(db, r.runnerId, slots);
  return true;
}

/** Slot rows 0..slots-1 exist; free rows at or above `slots` are gone. */
async function ensureSlotRows(db: Queryable, runnerId: string, slots: number): Promise<void> {
  if (slots > 0) {
    if (isPostgres(db))
      await sql`insert into runner_slots (runner_id, slot)
        select ${runnerId}, s from generate_series(0, ${slots - 1}::int) as s
        on conflict (runner_id, slot) do nothing`.execute(db);
    else
      await sql`with recursive n(s) as (select 0 union all select s + 1 from n where s + 1 < ${slots})
        insert into runner_slots (runner_id, slot) select ${runnerId}, s from n where true
        on conflict (runner_id, slot) do nothing`.execute(db);
  }
  await db
    .deleteFrom("runner_slots")
    .where("runner_id", "=", runnerId)
    .where("slot", ">=", slots)
    .where("env_id", "is", null)
    .execute();
}

/** The runner's capacity row, or undefined before it ever registered. */
export async function runnerCapacity(db: Queryable, runnerId: string): Promise<RunnerCapacity | undefined> {
  return (await runnerCapacities(db, [runnerId])).get(runnerId);
}

/** Several runners' capacity rows in one read (a create whose snapshot proved stale re-reads them). */
export async function runnerCapacities(
  db: Queryable,
  runnerIds: string[],
): Promise<Map<string, RunnerCapacity>> {
  if (runnerIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("runner_capacity")
    .selectAll()
    .where("runner_id", "in", runnerIds)
    .execute();
  return new Map(rows.map((row) => [row.runner_id, capacityOf(row)]));
}

function capacityOf(row: {
  cpus: number;
  memory_bytes: number;
  disk_bytes: number;
  slots: number;
  alloc_cpus: number;
  alloc_memory_bytes: number;
  alloc_disk_bytes: number;
  alloc_envs: number;
}): RunnerCapacity {
  return {
    cpus: Number(row.cpus),
    memoryBytes: Number(row.memory_bytes),
    diskBytes: Number(row.disk_bytes),
    slots: Number(row.slots),
    alloc: {
      cpus: Number(row.alloc_cpus),
      memoryBytes: Number(row.alloc_memory_bytes),
      diskBytes: Number(row.alloc_disk_bytes),
      envs: Number(row.alloc_envs),
    },
  };
}

/**
 * The runner's lowest free slot, locked for this transaction: concurrent creates on one runner
 * each skip the others' claims instead of queueing (PostgreSQL). SQLite runs one write
 * transaction at a time, so a plain read is already exclusive. Undefined: none is free.
 */
export async function claimFreeSlot(trx: Queryable, runnerId: string): Promise<number | undefined> {
  let q = trx
    .selectFrom("runner_slots")
    .select("slot")
    .where("runner_id", "=", runnerId)
    .where("env_id", "is", null)
    .orderBy("slot")
    .limit(1);
  if (isPostgres(trx)) q = q.forUpdate().skipLocked();
  const row = await q.executeTakeFirst();
  return row === undefined ? undefined : Number(row.slot);
}

export interface AdmissionNeed {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/**
 * A cordoned or draining runner takes no new environment, checked in the admitting statement
 * itself: placement's cached view may not have seen a cordon made a moment ago on any replica.
 * Resizes of environments already there are not placements and stay allowed. The embedded
 * runner has no runners row, so it is never cordoned.
 */
const NOT_CORDONED = sql`not exists (select 1 from runners r
  where r.id = runner_capacity.runner_id and r.schedule <> 'active')`;

/** Fractional CPUs are summed in floating point: a tolerance well below any real request. */
const CPU_EPSILON = 1e-9;

/** Overcommit ratios of the class admitted for; disk absent (a resize, which never grows disk) is 1:1. */
export interface AdmissionRatio {
  cpu: number;
  memory: number;
  disk?: number;
}

/** Disk sizes may sum to free disk × this (classes.disk_overcommit); anything not a ratio ≥ 1 is 1. */
function admissionDiskRatio(ratio: AdmissionRatio): number {
  const r = ratio.disk;
  return r !== undefined && Number.isFinite(r) && r >= 1 ? r : 1;
}

/**
 * Locks the runner's capacity row if `need` still fits on it (memory limits within physical
 * memory × ratio, CPU limits within cores × ratio, disk sizes within free disk × ratio unless it
 * adds no disk, a slot left); the row stays locked until
 * the transaction ends, so the insert that follows is the only admission to this runner meanwhile.
 * False: it does not fit (or the runner never registered); roll back and try another runner.
 */
export async function lockCapacityIfFits(
  trx: Queryable,
  runnerId: string,
  need: AdmissionNeed,
  ratio: AdmissionRatio,
  /** False for a resize: the environment already holds its slot. */
  newSlot = true,
): Promise<boolean> {
  const row = await trx
    .updateTable("runner_capacity")
    .set((eb) => ({ alloc_envs: eb.ref("alloc_envs") }))
    .where("runner_id", "=", runnerId)
    .where(
      // Casts: PostgreSQL types a bare parameter from its neighbour (a bigint column would
      // refuse 1.5); SQLite reads both type names as its own affinities.
      sql<boolean>`(alloc_envs < slots or ${newSlot ? 0 : 1} = 1)
        and (${newSlot ? 1 : 0} = 0 or ${NOT_CORDONED})
        and (cast(${Math.ceil(need.diskBytes)} as bigint) = 0
          or alloc_disk_bytes + cast(${Math.ceil(need.diskBytes)} as bigint)
            <= floor(disk_bytes * cast(${admissionDiskRatio(ratio)} as double precision)))
        and alloc_cpus + cast(${need.cpus} as double precision)
          <= cpus * cast(${ratio.cpu} as double precision) + ${CPU_EPSILON}
        and alloc_memory_bytes + cast(${Math.ceil(need.memoryBytes)} as bigint)
          <= floor(memory_bytes * cast(${ratio.memory} as double precision))`,
    )
    .returning("runner_id")
    .executeTakeFirst();
  return row !== undefined;
}

/** A create no runner could take, for the autoscaler. */
export async function recordDemand(
  db: Queryable,
  d: { orgId: string; need: AdmissionNeed; at: string },
): Promise<void> {
  await db
    .insertInto("fleet_demand")
    .values({
      org_id: d.orgId,
      cpus: d.need.cpus,
      memory_bytes: d.need.memoryBytes,
      disk_bytes: d.need.diskBytes,
      at: d.at,
    })
    .execute();
}

/**
 * Serialises creates of one organisation that has quotas (PostgreSQL; SQLite already runs one
 * writer): quota sums span runners, so two creates on different runners must not both pass.
 * Organisations without quotas never take it.
 */
export async function lockQuotaRow(trx: Queryable, orgId: string): Promise<void> {
  if (!isPostgres(trx)) return;
  await trx.selectFrom("org_quotas").select("org_id").where("org_id", "=", orgId).forUpdate().execute();
}

/** The environment insert hit (org_id, name)'s unique constraint: another create took the name. */
export function isNameTaken(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === "23505")
    return (
      e.constraint === "environments_org_name_key" ||
      /\(org_id, name\)/.test(String((err as { detail?: unknown }).detail))
    );
  return /UNIQUE constraint failed: environments\.org_id, environments\.name/.test(String(e.message));
}

/**
 * PostgreSQL's whole admission as one statement, committed on its own: lock the capacity row if
 * the environment fits, claim the lowest free slot (SKIP LOCKED), insert the row with it. The
 * runner's row lock is held for this statement and its commit only, never across round trips
 * to the control plane. Returns the slot, or undefined when the runner has no room (no row was
 * written). The insert's trigger then adds to alloc_* and marks the slot taken.
 */
export async function admitInOneStatement(
  db: Queryable,
  a: {
    runnerId: string;
    need: AdmissionNeed;
    ratio: AdmissionRatio;
    row: Record<string, unknown>;
  },
): Promise<number | undefined> {
  const cols = Object.keys(a.row).filter((c) => c !== "slot");
  const { need, ratio } = a;
  const res = await sql<{ slot: number }>`with cap as (
      update runner_capacity set alloc_envs = alloc_envs
      where runner_id = ${a.runnerId}
        and alloc_envs < slots
        and ${NOT_CORDONED}
        and alloc_disk_bytes + cast(${Math.ceil(need.diskBytes)} as bigint)
          <= floor(disk_bytes * cast(${admissionDiskRatio(ratio)} as double precision))
        and alloc_cpus + cast(${need.cpus} as double precision)
          <= cpus * cast(${ratio.cpu} as double precision) + ${CPU_EPSILON}
        and alloc_memory_bytes + cast(${Math.ceil(need.memoryBytes)} as bigint)
          <= floor(memory_bytes * cast(${ratio.memory} as double precision))
      returning runner_id
    ), free as (
      select slot from runner_slots
      where runner_id = ${a.runnerId} and env_id is null and exists (select 1 from cap)
      order by slot limit 1 for update skip locked
    )
    insert into environments (${sql.join(cols.map((c) => sql.ref(c)))}, slot)
    select ${sql.join(cols.map((c) => sql`${a.row[c]}`))}, free.slot from free
    returning slot`.execute(db);
  const row = res.rows[0];
  return row === undefined ? undefined : Number(row.slot);
}
