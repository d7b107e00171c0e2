// Environment ports (services/ports.ts): what listens, who may reach it through the port proxy,
// and its URL. Validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import {
  API_PREFIX,
  type EnvPortList as EnvPortListT,
  type EnvPort as EnvPortT,
  WarrenError,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { PortService } from "../services/ports.ts";
import { requestActor } from "./auth.ts";
import { NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

const PORTS = `${API_PREFIX}/environments/:name/ports`;
const tags = ["environments"];

const Visibility = Type.Union([Type.Literal("private"), Type.Literal("org"), Type.Literal("public")], {
  description:
    "private: the owner (default); org: the organisation's members; public: anyone (where allowed)",
});
export const EnvPort = Type.Object({
  port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  listening: Type.Boolean({ description: "Something listens on it now, inside the environment." }),
  addresses: Type.Array(Type.String(), {
    description: "Local addresses it listens on; empty when not listening.",
  }),
  process: Type.Optional(
    Type.String({ description: "The listening process's name, when it could be told." }),
  ),
  visibility: Visibility,
  url: Type.Optional(
    Type.String({ description: "The port's URL on the port proxy; absent without a proxy." }),
  ),
  updatedAt: Type.Optional(Type.String({ description: "ISO 8601 time the visibility was last set" })),
  updatedBy: Type.Optional(Type.String({ description: 'A user id or "local-root"' })),
  label: Type.Optional(Type.String({ description: "devcontainer.json's portsAttributes label" })),
  forwarded: Type.Optional(Type.Boolean({ description: "Listed in devcontainer.json's forwardPorts" })),
});
const EnvPortList = Type.Object({
  items: Type.Array(EnvPort),
  running: Type.Boolean({ description: "False when the environment is not running: nothing was detected." }),
  publicPorts: Type.Union([Type.Literal("allow"), Type.Literal("deny")], {
    description: "The organisation's policy on public ports.",
  }),
});
const PortParams = Type.Object({
  name: NameParams.properties.name,
  port: Type.String({ pattern: "^[0-9]{1,5}$", description: "TCP port inside the environment, 1-65535." }),
});
type PortParams = Static<typeof PortParams>;
const Body = Type.Object({ visibility: Visibility }, { additionalProperties: false });
type Body = Static<typeof Body>;

export function portRoutes(app: FastifyInstance, ports: PortService | undefined): void {
  const svc = (): PortService => {
    if (!ports) throw new WarrenError("INVALID_ARGUMENT", "ports are not configured on this server");
    return ports;
  };

  app.get<{ Params: NameParams }>(
    PORTS,
    {
      schema: {
        operationId: "listEnvPorts",
        tags,
        summary:
          "The environment's ports: TCP ports listening in its network namespace, merged with each port's visibility and URL.",
        params: NameParams,
        response: {
          200: EnvPortList,
          ...errors(
            "INVALID_ARGUMENT",
            "ENV_NOT_FOUND",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "RUNNER_UNAVAILABLE",
          ),
        },
      },
    },
    async (req) => svc().list(requestActor(req), req.params.name),
  );

  app.put<{ Params: PortParams; Body: Body }>(
    `${PORTS}/:port`,
    {
      schema: {
        operationId: "setEnvPort",
        tags,
        summary:
          "Set who may reach a port through the port proxy (the environment's owner or an admin); public only where the organisation allows it.",
        params: PortParams,
        body: Body,
        response: {
          200: EnvPort,
          ...errors(
            "INVALID_ARGUMENT",
            "ENV_NOT_FOUND",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "PUBLIC_PORTS_DENIED",
          ),
        },
      },
    },
    async (req) =>
      svc().set(requestActor(req), req.params.name, Number(req.params.port), req.body.visibility),
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [
  Assert<Same<Static<typeof EnvPort>, EnvPortT>>,
  Assert<Same<Static<typeof EnvPortList>, EnvPortListT>>,
];
