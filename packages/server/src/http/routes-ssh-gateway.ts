// Where the SSH gateway listens and the host key clients pin (`warren ssh`, `warren ssh-config`).
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, type SshGatewayInfo } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { callerOf } from "./auth.ts";
import { errors } from "./schemas-response.ts";

export const SshGatewayInfoSchema = Type.Object({
  listening: Type.Boolean({ description: "false when this server runs no SSH gateway" }),
  host: Type.String({ description: "the address it listens on (empty when not listening)" }),
  port: Type.Integer({ description: "its TCP port (0 when not listening)" }),
  hostKey: Type.String({ description: '"ssh-ed25519 AAAA...": the line to pin in known_hosts' }),
  fingerprint: Type.String({ description: "SHA256:base64 of the host key, as ssh prints it" }),
});

const NOT_LISTENING: SshGatewayInfo = { listening: false, host: "", port: 0, hostKey: "", fingerprint: "" };

export function sshGatewayRoutes(
  app: FastifyInstance,
  info: (() => SshGatewayInfo | undefined) | undefined,
): void {
  app.get(
    `${API_PREFIX}/ssh/gateway`,
    {
      schema: {
        operationId: "getSshGateway",
        tags: ["ssh-keys"],
        summary: "The SSH gateway's address and host key.",
        response: { 200: SshGatewayInfoSchema, ...errors("UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => {
      callerOf(req);
      return info?.() ?? NOT_LISTENING;
    },
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [Assert<Same<Static<typeof SshGatewayInfoSchema>, SshGatewayInfo>>];
