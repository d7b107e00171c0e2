// Which organisation holds which image reference (migration 010).
import type { Selectable } from "kysely";
import type { OrgImagesTable } from "../schema-images.ts";
import type { Queryable } from "./envs.ts";

export type OrgImageRow = Selectable<OrgImagesTable>;

export function listOrgImages(db: Queryable, orgId: string): Promise<OrgImageRow[]> {
  return db.selectFrom("org_images").selectAll().where("org_id", "=", orgId).orderBy("ref").execute();
}

export function getOrgImage(db: Queryable, orgId: string, ref: string): Promise<OrgImageRow | undefined> {
  return db
    .selectFrom("org_images")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("ref", "=", ref)
    .executeTakeFirst();
}

/** Every ref some organisation holds, with the organisations holding it. */
export async function imageHolders(db: Queryable): Promise<Map<string, Set<string>>> {
  const rows = await db.selectFrom("org_images").select(["org_id", "ref"]).execute();
  const out = new Map<string, Set<string>>();
  for (const r of rows) out.set(r.ref, (out.get(r.ref) ?? new Set()).add(r.org_id));
  return out;
}

/** The organisations that hold `ref`. */
export async function holdersOf(db: Queryable, ref: string): Promise<string[]> {
  const rows = await db.selectFrom("org_images").select("org_id").where("ref", "=", ref).execute();
  return rows.map((r) => r.org_id);
}

/** Records (or refreshes the digest of) an organisation's reference. */
export async function putOrgImage(db: Queryable, row: OrgImageRow): Promise<void> {
  await db
    .insertInto("org_images")
    .values(row)
    .onConflict((oc) => oc.columns(["org_id", "ref"]).doUpdateSet({ digest: row.digest }))
    .execute();
}

export async function deleteOrgImages(db: Queryable, orgId: string, refs: string[]): Promise<number> {
  if (refs.length === 0) return 0;
  const res = await db
    .deleteFrom("org_images")
    .where("org_id", "=", orgId)
    .where("ref", "in", refs)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Names of the organisation's environments (not being deleted) made from `ref`. */
export async function orgEnvsUsing(db: Queryable, orgId: string, ref: string): Promise<string[]> {
  const rows = await db
    .selectFrom("environments")
    .select("name")
    .where("org_id", "=", orgId)
    .where("image", "=", ref)
    .where("desired", "<>", "deleted")
    .orderBy("name")
    .execute();
  return rows.map((r) => r.name);
}
