// Usage figures (`warren stats`): one environment, or every running one.
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import { NameParams } from "./schemas.ts";

export function statsRoutes(app: FastifyInstance, { envs }: HttpDeps): void {
  app.get(`${API_PREFIX}/stats`, async () => ({ items: await envs.statsAll() }));

  app.get<{ Params: NameParams }>(
    `${API_PREFIX}/environments/:name/stats`,
    { schema: { params: NameParams } },
    (req) => envs.stats(req.params.name),
  );
}
