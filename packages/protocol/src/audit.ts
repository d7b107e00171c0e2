// The audit trail and quotas as the API shows them (server services/audit.ts, services/quotas.ts).

export type AuditResult = "ok" | "denied" | "error";

/** One append-only record: who did what to which object, from where, and how it ended. */
export interface AuditRecord {
  id: number;
  orgId: string;
  /** A user id, "runner:<token id>", or "local-root" (root on the local socket). */
  actor: string;
  /** e.g. "environment.create", "token.revoke", "quota.set". */
  action: string;
  /** The object acted on (an environment's name, a token id, ...); empty when none. */
  target: string;
  sourceAddress: string;
  result: AuditResult;
  /** The ErrorCode of a denied or failed action. */
  code?: string;
  at: string;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  /** ISO-8601 times; `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditPage {
  items: AuditRecord[];
  nextCursor?: string;
}

/** An organisation's quotas; null means unlimited. */
export interface Quotas {
  cpus: number | null;
  memoryBytes: number | null;
  diskBytes: number | null;
  /** Running environments per user of the organisation. */
  userMaxRunning: number | null;
  /** The longest a token of the organisation may live, in days; null: the server's maximum. */
  tokenMaxDays: number | null;
}

export interface QuotaUsage {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

export interface QuotaView {
  quotas: Quotas;
  /** Summed over the organisation's environments that are not deleted. */
  usage: QuotaUsage;
}

/** A PUT body: a field set to null clears it (unlimited); an absent field is unchanged. */
export interface SetQuotasRequest {
  cpus?: number | null;
  /** A size: 512m, 8g, 8Gi. */
  memory?: string | null;
  disk?: string | null;
  userMaxRunning?: number | null;
  tokenMaxDays?: number | null;
}
