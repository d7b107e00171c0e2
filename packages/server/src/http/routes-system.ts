import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";

export function systemRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get(`${API_PREFIX}/health`, async () => ({ ok: true as const, version: deps.version }));
  app.get(`${API_PREFIX}/runner`, () => deps.runner.info());
}
