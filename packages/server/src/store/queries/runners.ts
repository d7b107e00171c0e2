// Named queries on runners (migration 014).
import type { RunnerInfo } from "@warren/protocol";
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
