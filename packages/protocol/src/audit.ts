// The audit trail and quotas as the API shows them (server services/audit.ts, services/quotas.ts).

export type AuditResult = "ok" | "denied" | "error";

/** A runner sent a frame that breaks the runner protocol; its connection was closed (target: why). */
export const AUDIT_RUNNER_PROTOCOL_VIOLATION = "runner.protocol-violation";

/** The runner autoscaler scaled a pool, or a provider call failed (actor "autoscaler", target: pool and decision). */
export const AUDIT_FLEET_AUTOSCALE = "fleet.autoscale";

/** The longest each audit field is stored (the server cuts longer values, marking the cut with "…"). */
export const AUDIT_FIELD_MAX = {
  orgId: 100,
  actor: 200,
  action: 100,
  target: 500,
  sourceAddress: 100,
  code: 64,
} as const;

/**
 * Control characters (C0, DEL, C1) and the Unicode line and bidi controls written as \xNN or
 * \u{N}, so a field cannot move a terminal's cursor, recolour it, or pose as another line. The
 * server stores audit fields this way; `warren audit ls` applies it again when printing.
 */
export function escapeControlChars(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.codePointAt(0) ?? 0;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
  });
}

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
  /** The longest an environment may go unused before it stops, in seconds (null: no maximum). */
  maxIdleTimeoutSeconds: number | null;
  /** Whether ports may be made public (ports.ts); "deny" until an admin allows them. */
  publicPorts: "allow" | "deny";
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
  /** A duration (2h, 1d); null or "never" clears it. */
  maxIdleTimeout?: string | null;
  /** Allow or deny public ports; null resets to the default (deny). */
  publicPorts?: "allow" | "deny" | null;
}
