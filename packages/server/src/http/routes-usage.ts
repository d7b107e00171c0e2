// Usage reports (services/usage.ts): validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, USAGE_GROUPS, type UsageReport as UsageReportT, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { UsageService } from "../services/usage.ts";
import { requestActor } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const By = Type.Union(USAGE_GROUPS.map((g) => Type.Literal(g)));
const UsageQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: "ISO 8601 date or date-time; default: 30 days before until",
      }),
    ),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: "ISO 8601; default: now" })),
    by: Type.Optional(By),
  },
  { additionalProperties: false },
);
type UsageQuery = Static<typeof UsageQuery>;

const UsageRow = Type.Object({
  key: Type.String({ description: "user name, project, class or organisation name" }),
  envSeconds: Type.Number({ description: "seconds environments ran (the control plane's record)" }),
  cpuSeconds: Type.Number({ description: "allocated: cpus × seconds running" }),
  memoryGiBHours: Type.Number({ description: "allocated: GiB × hours running" }),
  diskGiBHours: Type.Number({ description: "reserved: GiB × hours the environment existed" }),
  measuredCpuSeconds: Type.Number({ description: "CPU the runners reported (sampled); not billed" }),
});
export const UsageReport = Type.Object({
  since: Type.String(),
  until: Type.String(),
  by: By,
  rows: Type.Array(UsageRow),
});

export function usageRoutes(app: FastifyInstance, svc: UsageService | undefined): void {
  app.get<{ Querystring: UsageQuery }>(
    `${API_PREFIX}/usage`,
    {
      schema: {
        operationId: "usage",
        tags: ["usage"],
        summary:
          "Environment-seconds, allocated CPU-seconds and GiB-hours of memory and disk, with measured CPU, grouped by user, project, class or organisation. Members see their own, admins their organisation's.",
        querystring: UsageQuery,
        response: { 200: UsageReport, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => {
      if (!svc) throw new WarrenError("INVALID_ARGUMENT", "usage reports need the server's store");
      return svc.report(requestActor(req), req.query);
    },
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [Assert<Same<Static<typeof UsageReport>, UsageReportT>>];
