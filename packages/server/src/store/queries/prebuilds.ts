// Prebuild rows (migration 027): one per (organisation, repository, branch).
import type { Selectable, Updateable } from "kysely";
import type { PrebuildsTable } from "../schema-prebuilds.ts";
import type { Queryable } from "./envs.ts";

export type PrebuildRow = Selectable<PrebuildsTable>;

export function getPrebuild(db: Queryable, orgId: string, id: string): Promise<PrebuildRow | undefined> {
  return db
    .selectFrom("prebuilds")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .executeTakeFirst();
}

export function findPrebuild(
  db: Queryable,
  orgId: string,
  repo: string,
  branch: string,
): Promise<PrebuildRow | undefined> {
  return db
    .selectFrom("prebuilds")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("repo", "=", repo)
    .where("branch", "=", branch)
    .executeTakeFirst();
}

export function prebuildOfEnv(db: Queryable, envId: string): Promise<PrebuildRow | undefined> {
  return db.selectFrom("prebuilds").selectAll().where("env_id", "=", envId).executeTakeFirst();
}

export function listPrebuilds(db: Queryable, orgId?: string): Promise<PrebuildRow[]> {
  let q = db.selectFrom("prebuilds").selectAll();
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  return q.orderBy("repo").orderBy("branch").execute();
}

/** Scheduled prebuilds whose next run is due (and none under way). */
export function duePrebuilds(db: Queryable, now: string): Promise<PrebuildRow[]> {
  return db
    .selectFrom("prebuilds")
    .selectAll()
    .where("next_run_at", "is not", null)
    .where("next_run_at", "<=", now)
    .where("env_id", "is", null)
    .execute();
}

export async function insertPrebuild(db: Queryable, row: PrebuildRow): Promise<void> {
  await db.insertInto("prebuilds").values(row).execute();
}

export async function updatePrebuild(
  db: Queryable,
  id: string,
  set: Updateable<PrebuildsTable> & { updated_at: string },
): Promise<void> {
  await db.updateTable("prebuilds").set(set).where("id", "=", id).execute();
}

/**
 * Claims a run: sets env_id only when no run holds the row, so a webhook, a schedule and a
 * command racing each other start one prebuild environment, not three.
 */
export async function claimPrebuildRun(
  db: Queryable,
  id: string,
  envId: string,
  now: string,
): Promise<boolean> {
  const r = await db
    .updateTable("prebuilds")
    .set({ env_id: envId, state: "building", message: null, updated_at: now })
    .where("id", "=", id)
    .where("env_id", "is", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function deletePrebuild(db: Queryable, id: string): Promise<void> {
  await db.deleteFrom("prebuilds").where("id", "=", id).execute();
}
