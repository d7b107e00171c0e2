// Usage figures (`warren stats`): one environment, or every running one.
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { NameParams } from "./schemas.ts";
import { EnvStats, errors, items } from "./schemas-response.ts";

export function statsRoutes(app: FastifyInstance, { envs }: HttpDeps): void {
  app.get(
    `${API_PREFIX}/stats`,
    {
      schema: {
        operationId: "stats",
        tags: ["environments"],
        summary: "Usage of every running environment.",
        response: { 200: items(EnvStats), ...errors() },
      },
    },
    async (req) => ({ items: await envs.statsAll(requestActor(req)) }),
  );

  app.get<{ Params: NameParams }>(
    `${API_PREFIX}/environments/:name/stats`,
    {
      schema: {
        operationId: "environmentStats",
        tags: ["environments"],
        summary: "Usage of one running environment.",
        params: NameParams,
        response: { 200: EnvStats, ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND", "ENV_NOT_RUNNING") },
      },
    },
    (req) => envs.stats(requestActor(req), req.params.name),
  );
}
