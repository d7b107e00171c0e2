// Registry logins. The password travels in a request body only (never a URL or query string,
// which end up in logs) and is never returned.
import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { HostParams, RegistryLoginBody } from "./schemas.ts";
import { errors, items, RegistryLogin } from "./schemas-response.ts";

const REGISTRIES = `${API_PREFIX}/registries`;
const tags = ["registries"];

export function registryRoutes(app: FastifyInstance, { registries }: HttpDeps): void {
  app.get(
    REGISTRIES,
    {
      schema: {
        operationId: "listRegistryLogins",
        tags,
        summary: "The organisation's stored logins: hosts and usernames, never passwords.",
        response: { 200: items(RegistryLogin), ...errors() },
      },
    },
    async (req) => ({ items: await registries.list(requestActor(req)) }),
  );

  app.put<{ Params: HostParams; Body: RegistryLoginBody }>(
    `${REGISTRIES}/:host`,
    {
      schema: {
        operationId: "registryLogin",
        tags,
        summary: "Store (encrypted) the organisation's login for a registry host (admins).",
        params: HostParams,
        body: RegistryLoginBody,
        response: {
          200: RegistryLogin,
          ...errors("INVALID_ARGUMENT", "FORBIDDEN", "REGISTRY_AUTH_FAILED", "REGISTRY_UNAVAILABLE"),
        },
      },
    },
    async (req) => registries.login(requestActor(req), req.params.host, req.body.username, req.body.password),
  );

  app.delete<{ Params: HostParams }>(
    `${REGISTRIES}/:host`,
    {
      schema: {
        operationId: "registryLogout",
        tags,
        summary: "Forget the organisation's login for a registry host (admins).",
        params: HostParams,
        response: {
          200: Type.Object({ removed: Type.Boolean() }),
          ...errors("INVALID_ARGUMENT", "FORBIDDEN"),
        },
      },
    },
    async (req) => ({
      removed: await registries.logout(requestActor(req), req.params.host),
    }),
  );
}
