// Named queries on audit_records (migration 007). Append-only: there is an insert, a paged read,
// and the retention sweep's delete by age; nothing updates a record or deletes one by id.
import type { Insertable, Selectable } from "kysely";
import type { AuditRecordsTable } from "../schema-audit.ts";
import type { Queryable } from "./envs.ts";

export type AuditRow = Selectable<AuditRecordsTable>;

export async function insertAuditRecord(db: Queryable, row: Insertable<AuditRecordsTable>): Promise<void> {
  await db.insertInto("audit_records").values(row).execute();
}

export interface AuditFilter {
  orgId: string;
  actor?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  /** Only records with a smaller id (the previous page's last id). */
  beforeId?: number | undefined;
  limit: number;
}

/** Newest first. */
export function listAuditRecords(db: Queryable, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom("audit_records").selectAll().where("org_id", "=", f.orgId);
  if (f.actor !== undefined) q = q.where("actor", "=", f.actor);
  if (f.action !== undefined) q = q.where("action", "=", f.action);
  if (f.since !== undefined) q = q.where("at", ">=", f.since);
  if (f.until !== undefined) q = q.where("at", "<", f.until);
  if (f.beforeId !== undefined) q = q.where("id", "<", f.beforeId);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** The retention sweep: deletes records older than `before` (ISO time). Returns how many went. */
export async function sweepAuditRecords(db: Queryable, before: string): Promise<number> {
  const res = await db.deleteFrom("audit_records").where("at", "<", before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
