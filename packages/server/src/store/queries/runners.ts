// Named queries on runners (migrations 014 and 031): presence (which replica holds which runner),
// identity at attach (name, host id) and what the fleet cache reads. Health (unreachable) and the
// heartbeat's batched writes are in runner-health.ts.
import type { RunnerInfo } from "@warren/protocol";
import type { Db } from "../db.ts";
import type { RunnerSchedule } from "../schema-runners.ts";
import { lockAdmissions } from "./admission-lock.ts";
import type { Queryable } from "./envs.ts";

export interface SeenRunner {
  id: string;
  orgId: string;
  info: RunnerInfo;
  imageRefs: string[];
  replica: string | null;
  seenAt: string;
}

/**
 * Records a runner this replica now holds: what it reports, its name, labels and host id, and that
 * it is reachable again (unreachable_since cleared). A row already bound to another host id is left
 * alone and false returned (runners/runner-identity.ts): of two hosts racing to attach with one
 * new token, exactly one binds it.
 */
export async function upsertRunner(
  db: Queryable,
  r: {
    id: string;
    orgId: string;
    info: RunnerInfo;
    name: string;
    imageRefs: string[];
    replica: string;
    now: string;
  },
): Promise<boolean> {
  const row = {
    hostname: r.info.hostname,
    info: JSON.stringify(r.info),
    image_refs: JSON.stringify(r.imageRefs),
    replica: r.replica,
    seen_at: r.now,
    name: r.name,
    labels: JSON.stringify(r.info.labels ?? {}),
    host_id: r.info.hostId ?? null,
    unreachable_since: null,
  };
  const wrote = await db
    .insertInto("runners")
    .values({ id: r.id, org_id: r.orgId, ...row })
    .onConflict((oc) =>
      oc
        .column("id")
        .doUpdateSet(row)
        .where((eb) =>
          eb.or([eb("runners.host_id", "is", null), eb("runners.host_id", "=", eb.ref("excluded.host_id"))]),
        ),
    )
    .returning("id")
    .executeTakeFirst();
  return wrote !== undefined;
}

/** The host a runner token's row is bound to (runner-identity.ts checkTokenBinding); none before its first attach. */
export async function tokenBinding(
  db: Queryable,
  runnerId: string,
): Promise<{ hostId: string | null; name: string | null; hostname: string } | undefined> {
  const row = await db
    .selectFrom("runners")
    .select(["host_id", "name", "hostname"])
    .where("id", "=", runnerId)
    .executeTakeFirst();
  return row && { hostId: row.host_id, name: row.name, hostname: row.hostname };
}

/** Marks this replica's runners as still held (heartbeat). */
export async function touchRunners(
  db: Queryable,
  ids: string[],
  replica: string,
  now: string,
): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("runners")
    .set({ seen_at: now })
    .where("id", "in", ids)
    .where("replica", "=", replica)
    .execute();
}

/**
 * A disconnect: only if this replica still holds it (a newer connection elsewhere wins). seen_at
 * becomes the moment of the disconnect, which the unreachable grace period counts from.
 */
export async function releaseRunner(db: Queryable, id: string, replica: string, now: string): Promise<void> {
  await db
    .updateTable("runners")
    .set({ replica: null, seen_at: now })
    .where("id", "=", id)
    .where("replica", "=", replica)
    .execute();
}

/** The organisation's runners held by any replica and seen since `since`, most recent first. */
export async function liveRunners(db: Queryable, orgId: string, since: string): Promise<SeenRunner[]> {
  const rows = await db
    .selectFrom("runners")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("replica", "is not", null)
    .where("seen_at", ">=", since)
    .orderBy("seen_at", "desc")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    orgId: r.org_id,
    info: JSON.parse(r.info) as RunnerInfo,
    imageRefs: JSON.parse(r.image_refs) as string[],
    replica: r.replica,
    seenAt: r.seen_at,
  }));
}

/**
 * Records that `runnerId` now serves every environment of its organisation, and returns how many
 * moved. Within an organisation the most recently connected runner serves all of its environments
 * (runners/hub.ts), so their slots and disk count against that runner; a runner that reconnects
 * with a new token (a new id) on the same host must not hand out the slots, uid blocks and
 * addresses its environments already use. Runs under the admission locks of every runner involved,
 * so no create on either side reads a half-moved state. (A create that read the old runner's info
 * before the move and commits after it still lands on the old id; the next attach moves it.)
 * Fails, changing nothing, if two of the environments hold the same slot, which only an
 * organisation served by two runners at once can produce.
 */
export async function moveOrgEnvironments(db: Db, orgId: string, runnerId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const from = await trx
      .selectFrom("environments")
      .select("runner_id")
      .distinct()
      .where("org_id", "=", orgId)
      .where("runner_id", "!=", runnerId)
      .execute();
    if (from.length === 0) return 0;
    await lockAdmissions(trx, [runnerId, ...from.map((r) => r.runner_id)]);
    const r = await trx
      .updateTable("environments")
      .set({ runner_id: runnerId })
      .where("org_id", "=", orgId)
      .where("runner_id", "!=", runnerId)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  });
}

/** A runner as the fleet reads it: its row and its capacity row (migration 031), parsed. */
export interface RunnerRecord {
  id: string;
  orgId: string;
  name: string | null;
  info: RunnerInfo;
  imageRefs: string[];
  labels: Record<string, string>;
  schedule: RunnerSchedule;
  replica: string | null;
  seenAt: string;
  unreachableSince: string | null;
  hostId: string | null;
  capacity: { cpus: number; memoryBytes: number; diskBytes: number; slots: number };
  allocated: { cpus: number; memoryBytes: number; diskBytes: number; slots: number };
}

/** The organisation's runners, or one runner by id, with their capacity rows (one query). */
export async function runnerRecords(
  db: Queryable,
  where: { orgId: string } | { id: string },
): Promise<RunnerRecord[]> {
  let q = db
    .selectFrom("runners")
    .leftJoin("runner_capacity", "runner_capacity.runner_id", "runners.id")
    .select([
      "runners.id",
      "runners.org_id",
      "runners.name",
      "runners.info",
      "runners.image_refs",
      "runners.labels",
      "runners.schedule",
      "runners.replica",
      "runners.seen_at",
      "runners.unreachable_since",
      "runners.host_id",
      "runner_capacity.cpus",
      "runner_capacity.memory_bytes",
      "runner_capacity.disk_bytes",
      "runner_capacity.slots",
      "runner_capacity.alloc_cpus",
      "runner_capacity.alloc_memory_bytes",
      "runner_capacity.alloc_disk_bytes",
      "runner_capacity.alloc_envs",
    ]);
  q = "orgId" in where ? q.where("runners.org_id", "=", where.orgId) : q.where("runners.id", "=", where.id);
  const rows = await q.execute();
  const n = (v: number | null | undefined) => Number(v ?? 0);
  return rows.map((r) => ({
    id: r.id,
    orgId: r.org_id,
    name: r.name,
    info: JSON.parse(r.info) as RunnerInfo,
    imageRefs: JSON.parse(r.image_refs) as string[],
    labels: JSON.parse(r.labels) as Record<string, string>,
    schedule: r.schedule,
    replica: r.replica,
    seenAt: r.seen_at,
    unreachableSince: r.unreachable_since,
    hostId: r.host_id,
    capacity: {
      cpus: n(r.cpus),
      memoryBytes: n(r.memory_bytes),
      diskBytes: n(r.disk_bytes),
      slots: n(r.slots),
    },
    allocated: {
      cpus: n(r.alloc_cpus),
      memoryBytes: n(r.alloc_memory_bytes),
      diskBytes: n(r.alloc_disk_bytes),
      slots: n(r.alloc_envs),
    },
  }));
}

/** Another runner of the organisation that shares a connecting runner's name or host id. */
export interface Namesake {
  id: string;
  name: string | null;
  hostId: string | null;
  replica: string | null;
  seenAt: string;
  envs: number;
}

export async function namesakes(
  db: Queryable,
  p: { orgId: string; runnerId: string; name: string; hostId: string | undefined },
): Promise<Namesake[]> {
  const rows = await db
    .selectFrom("runners")
    .select((eb) => [
      "id",
      "name",
      "host_id",
      "replica",
      "seen_at",
      eb
        .selectFrom("environments")
        .select((e) => e.fn.countAll<number>().as("n"))
        .whereRef("environments.runner_id", "=", "runners.id")
        .as("envs"),
    ])
    .where("org_id", "=", p.orgId)
    .where("id", "!=", p.runnerId)
    .where((eb) =>
      p.hostId === undefined
        ? eb("name", "=", p.name)
        : eb.or([eb("name", "=", p.name), eb("host_id", "=", p.hostId)]),
    )
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    hostId: r.host_id,
    replica: r.replica,
    seenAt: r.seen_at,
    envs: Number(r.envs ?? 0),
  }));
}

/**
 * Moves one runner's environments to another id (the same host back under a new token), under the
 * admission locks of both, so no create on either reads a half-moved state. The triggers move
 * their allocation and slots with them. Returns the ids moved.
 */
export async function moveRunnerEnvironments(db: Db, fromId: string, toId: string): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await lockAdmissions(trx, [fromId, toId]);
    const moved = await trx
      .updateTable("environments")
      .set({ runner_id: toId })
      .where("runner_id", "=", fromId)
      .returning("id")
      .execute();
    return moved.map((r) => r.id);
  });
}

/**
 * Deletes a runner's row, capacity row and slot list, unless an environment still records it.
 * Used when the same host came back under another id, or a dead runner's name is taken over.
 */
export async function forgetRunner(db: Db, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await lockAdmissions(trx, [id]);
    const held = await trx
      .selectFrom("environments")
      .select("id")
      .where("runner_id", "=", id)
      .limit(1)
      .executeTakeFirst();
    if (held) return false;
    await trx.deleteFrom("runner_slots").where("runner_id", "=", id).execute();
    await trx.deleteFrom("runner_capacity").where("runner_id", "=", id).execute();
    await trx.deleteFrom("runners").where("id", "=", id).execute();
    return true;
  });
}

/** The ids of the environments recorded on a runner (its resync at attach). */
export async function listEnvIdsOfRunner(db: Queryable, runnerId: string): Promise<string[]> {
  const rows = await db.selectFrom("environments").select("id").where("runner_id", "=", runnerId).execute();
  return rows.map((r) => r.id);
}
