// Row shapes for the audit trail and quotas (migration 007).
import type { ColumnType, Generated } from "kysely";

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
  /** Migration 015: the longest lifetime of the organisation's tokens, at most the server's. */
  token_max_days: ColumnType<number | null, number | null | undefined, number | null>;
  /** Migration 023: the longest an environment may stay unused, seconds; null: no maximum. */
  max_idle_timeout_s: ColumnType<number | null, number | null | undefined, number | null>;
  /** Migration 022: whether the organisation allows public ports; null: deny. */
  public_ports: ColumnType<
    "allow" | "deny" | null,
    "allow" | "deny" | null | undefined,
    "allow" | "deny" | null
  >;
  updated_at: string;
}
