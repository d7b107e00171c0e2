import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { errors, Health, RunnerInfo } from "./schemas-response.ts";

export function systemRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get(
    `${API_PREFIX}/health`,
    {
      schema: {
        operationId: "health",
        tags: ["system"],
        summary: "Daemon liveness and version.",
        response: { 200: Health, ...errors() },
      },
    },
    async () => ({ ok: true as const, version: deps.version }),
  );
  app.get(
    `${API_PREFIX}/runner`,
    {
      schema: {
        operationId: "runnerInfo",
        tags: ["system"],
        summary: "The runner's host facts: runtimes, CPUs, memory, free disk, id range.",
        response: { 200: RunnerInfo, ...errors("RUNNER_UNAVAILABLE") },
      },
    },
    (req) => deps.host.info(requestActor(req)),
  );
}
