// Named queries on runners (migration 014).
import type { RunnerInfo } from "@warren/protocol";
import type { Db } from "../db.ts";
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

export async function upsertRunner(
  db: Queryable,
  r: { id: string; orgId: string; info: RunnerInfo; imageRefs: string[]; replica: string; now: string },
): Promise<void> {
  const row = {
    hostname: r.info.hostname,
    info: JSON.stringify(r.info),
    image_refs: JSON.stringify(r.imageRefs),
    replica: r.replica,
    seen_at: r.now,
  };
  await db
    .insertInto("runners")
    .values({ id: r.id, org_id: r.orgId, ...row })
    .onConflict((oc) => oc.column("id").doUpdateSet(row))
    .execute();
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

/** A disconnect: only if this replica still holds it (a newer connection elsewhere wins). */
export async function releaseRunner(db: Queryable, id: string, replica: string): Promise<void> {
  await db
    .updateTable("runners")
    .set({ replica: null })
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
