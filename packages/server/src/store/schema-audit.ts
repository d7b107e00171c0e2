// Row shapes for the audit trail and quotas (migration 007).
import type { Generated } from "kysely";

export interface AuditRecordsTable {
  id: Generated<number>;
  org_id: string;
  actor: string;
  action: string;
  target: string;
  source_address: string;
  result: "ok" | "denied" | "error";
  code: string | null;
  at: string;
}

/** NULL columns (and a missing row) mean unlimited. */
export interface OrgQuotasTable {
  org_id: string;
  cpus: number | null;
  memory_bytes: number | null;
  disk_bytes: number | null;
  user_max_running: number | null;
  updated_at: string;
}
