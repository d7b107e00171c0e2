// The audit log (admins read their organisation's) and organisation quotas (admins get and set).
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { AuditService } from "../services/audit.ts";
import type { QuotaService } from "../services/quotas.ts";
import { callerOf } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;
const AuditRecord = Type.Object({
  id: Type.Integer(),
  orgId: Type.String(),
  actor: Type.String({ description: 'A user id, "runner:<token id>" or "local-root".' }),
  action: Type.String(),
  target: Type.String(),
  sourceAddress: Type.String(),
  result: Type.Union([Type.Literal("ok"), Type.Literal("denied"), Type.Literal("error")]),
  code: Type.Optional(Type.String()),
  at: Type.String(),
});
const AuditPage = Type.Object({ items: Type.Array(AuditRecord), nextCursor: Type.Optional(Type.String()) });

const OrgParams = Type.Object({ org: Type.String({ minLength: 1, maxLength: 100 }) });
type OrgParams = Static<typeof OrgParams>;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Size = Type.Union([Type.String({ minLength: 1, maxLength: 32 }), Type.Null()]);
const QuotaBody = Type.Object(
  {
    cpus: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }))),
    memory: Type.Optional(Size),
    disk: Type.Optional(Size),
    userMaxRunning: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
    tokenMaxDays: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    maxIdleTimeout: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 32 }))),
    publicPorts: Type.Optional(Nullable(Type.Union([Type.Literal("allow"), Type.Literal("deny")]))),
  },
  { additionalProperties: false },
);
type QuotaBody = Static<typeof QuotaBody>;
const n = Type.Union([Type.Number(), Type.Null()]);
const QuotaView = Type.Object({
  quotas: Type.Object(
    {
      cpus: n,
      memoryBytes: n,
      diskBytes: n,
      userMaxRunning: n,
      tokenMaxDays: n,
      maxIdleTimeoutSeconds: n,
      publicPorts: Type.Union([Type.Literal("allow"), Type.Literal("deny")], {
        description: "whether ports may be made public; deny until an admin allows them",
      }),
    },
    { description: "null is unlimited" },
  ),
  usage: Type.Object({ cpus: Type.Number(), memoryBytes: Type.Number(), diskBytes: Type.Number() }),
});
const quotaErrors = errors("INVALID_ARGUMENT", "INVALID_SIZE", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN");

export function auditRoutes(
  app: FastifyInstance,
  audit: AuditService | undefined,
  quotas: QuotaService | undefined,
): void {
  const notConfigured = (what: string) =>
    new WarrenError("INVALID_ARGUMENT", `${what} is not configured on this server`);

  app.get<{ Querystring: AuditQuery }>(
    `${API_PREFIX}/audit`,
    {
      schema: {
        operationId: "listAudit",
        tags: ["audit"],
        summary: "The caller's organisation's audit records, newest first (admins).",
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => {
      if (!audit) throw notConfigured("the audit log");
      return audit.list(callerOf(req), req.query);
    },
  );

  app.get<{ Params: OrgParams }>(
    `${API_PREFIX}/orgs/:org/quotas`,
    {
      schema: {
        operationId: "getQuotas",
        tags: ["audit"],
        summary: "An organisation's quotas and current usage (admins).",
        params: OrgParams,
        response: { 200: QuotaView, ...quotaErrors },
      },
    },
    async (req) => {
      if (!quotas) throw notConfigured("quotas");
      return quotas.get(callerOf(req), req.params.org);
    },
  );

  app.put<{ Params: OrgParams; Body: QuotaBody }>(
    `${API_PREFIX}/orgs/:org/quotas`,
    {
      schema: {
        operationId: "setQuotas",
        tags: ["audit"],
        summary: "Set an organisation's quotas; null clears one (unlimited), absent keeps it (admins).",
        params: OrgParams,
        body: QuotaBody,
        response: { 200: QuotaView, ...quotaErrors },
      },
    },
    async (req) => {
      if (!quotas) throw notConfigured("quotas");
      return quotas.set(callerOf(req), req.params.org, req.body);
    },
  );
}
