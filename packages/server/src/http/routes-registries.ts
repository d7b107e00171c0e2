// Registry logins. The password travels in a request body only (never a URL or query string,
// which end up in logs) and is never returned.
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import { HostParams, RegistryLoginBody } from "./schemas.ts";

const REGISTRIES = `${API_PREFIX}/registries`;

export function registryRoutes(app: FastifyInstance, { registries }: HttpDeps): void {
  app.get(REGISTRIES, async () => ({ items: await registries.list() }));

  app.put<{ Params: HostParams; Body: RegistryLoginBody }>(
    `${REGISTRIES}/:host`,
    { schema: { params: HostParams, body: RegistryLoginBody } },
    async (req) => registries.login(req.params.host, req.body.username, req.body.password),
  );

  app.delete<{ Params: HostParams }>(
    `${REGISTRIES}/:host`,
    { schema: { params: HostParams } },
    async (req) => ({
      removed: await registries.logout(req.params.host),
    }),
  );
}
