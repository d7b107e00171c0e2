import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { DnsStats, errors } from "./schemas-response.ts";

// The runner's DNS cache and upstream counters, as `warren dns stats` shows them.
export function dnsRoutes(app: FastifyInstance, { host }: HttpDeps): void {
  app.get(
    `${API_PREFIX}/dns/stats`,
    {
      schema: {
        operationId: "dnsStats",
        tags: ["dns"],
        summary: "DNS cache and upstream counters.",
        response: { 200: DnsStats, ...errors() },
      },
    },
    (req) => host.dnsStats(requestActor(req)),
  );
}
