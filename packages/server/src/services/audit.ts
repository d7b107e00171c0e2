// The audit trail: one append-only record per audited action (http/audit-hook.ts decides which
// requests are actions and records them, failures included; reads are never recorded).
//
// Records are kept for WARREN_AUDIT_RETENTION_DAYS (default 365); the daemon sweeps hourly.
// Sign-in is an audited action too: the OIDC flow (not built yet) records it with
// `record({ action: "auth.sign-in", ... })` once it has resolved the user, ok or denied.
import type { AuditPage, AuditQuery, AuditRecord, AuditResult } from "@warren/protocol";
import { AUDIT_FIELD_MAX, escapeControlChars, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import {
  type AuditRow,
  insertAuditRecord,
  listAuditRecords,
  sweepAuditRecords,
} from "../store/queries/audit.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { type Actor, type Principal, requireUser } from "./actor.ts";
import { requireRole } from "./identity.ts";
import { requireSystem } from "./scope.ts";

export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;
const MAX_PAGE = 500;

export interface AuditEntry {
  orgId: string;
  actor: string;
  action: string;
  target: string;
  sourceAddress: string;
  result: AuditResult;
  code?: string | undefined;
}

export interface AuditService {
  /**
   * The entry names who acted (`actor`, from actorOf) and in which organisation. `via`: a
   * transaction of the same store to write it in (the request's idempotency record rides along).
   */
  record(e: AuditEntry, via?: Queryable): Promise<void>;
  /** An admin reads their own organisation's records. */
  list(a: Actor, q: AuditQuery): Promise<AuditPage>;
  /** Deletes records older than the retention period; returns how many went. The system only. */
  sweep(a: Actor): Promise<number>;
}

/** How a principal appears in the trail. */
export function actorOf(p: Principal): string {
  if (p.kind === "runner") return `runner:${p.tokenId}`;
  return p.via === "local-socket" ? "local-root" : p.userId;
}

export function auditRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env["WARREN_AUDIT_RETENTION_DAYS"];
  if (raw === undefined || raw === "") return DEFAULT_AUDIT_RETENTION_DAYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `WARREN_AUDIT_RETENTION_DAYS must be a whole number of days >= 1, not "${raw}"`,
    );
  }
  return n;
}

export function createAuditService(o: { db: Db; clock: Clock; env?: NodeJS.ProcessEnv }): AuditService {
  const { db, clock } = o;
  const retentionDays = auditRetentionDays(o.env);
  return {
    async record(e, via) {
      // Fields can carry what a caller sent (a name, a path, a runner's reason): bounded, and
      // with control characters escaped, so a record can neither bloat the trail nor rewrite
      // the terminal of the admin who reads it.
      await insertAuditRecord(via ?? db, {
        org_id: auditField(e.orgId, AUDIT_FIELD_MAX.orgId),
        actor: auditField(e.actor, AUDIT_FIELD_MAX.actor),
        action: auditField(e.action, AUDIT_FIELD_MAX.action),
        target: auditField(e.target, AUDIT_FIELD_MAX.target),
        source_address: auditField(e.sourceAddress, AUDIT_FIELD_MAX.sourceAddress),
        result: e.result,
        code: e.code === undefined ? null : auditField(e.code, AUDIT_FIELD_MAX.code),
        at: isoNow(clock),
      });
    },
    async list(a, q) {
      const c = requireUser(a, "reading the audit log");
      requireRole(c, "admin", "reading the audit log");
      const limit = q.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
        throw new WarrenError("INVALID_ARGUMENT", `limit must be a whole number from 1 to ${MAX_PAGE}`, {
          field: "limit",
        });
      }
      const rows = await listAuditRecords(db, {
        orgId: c.orgId,
        actor: q.actor,
        action: q.action,
        since: q.since !== undefined ? isoTime("since", q.since) : undefined,
        until: q.until !== undefined ? isoTime("until", q.until) : undefined,
        beforeId: q.cursor !== undefined ? cursorId(q.cursor) : undefined,
        limit,
      });
      const page: AuditPage = { items: rows.map(toRecord) };
      const last = rows.at(-1);
      if (rows.length === limit && last) page.nextCursor = String(last.id);
      return page;
    },
    async sweep(a) {
      requireSystem(a, "sweeping the audit log");
      return sweepAuditRecords(db, new Date(clock.now() - retentionDays * DAY_MS).toISOString());
    },
  };
}

/** A stored audit field: control characters escaped, then cut to `max` characters (… marks a cut). */
export function auditField(v: string, max: number): string {
  const s = escapeControlChars(String(v));
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1); // never half a surrogate pair
  return `${cut}…`;
}

function isoTime(field: string, v: string): string {
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${field} must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z`,
      {
        field,
      },
    );
  }
  return new Date(t).toISOString();
}

function cursorId(cursor: string): number {
  const n = Number(cursor);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new WarrenError("INVALID_ARGUMENT", "cursor is not one this server issued", { field: "cursor" });
  return n;
}

function toRecord(r: AuditRow): AuditRecord {
  const out: AuditRecord = {
    id: Number(r.id),
    orgId: r.org_id,
    actor: r.actor,
    action: r.action,
    target: r.target,
    sourceAddress: r.source_address,
    result: r.result,
    at: r.at,
  };
  if (r.code !== null) out.code = r.code;
  return out;
}
