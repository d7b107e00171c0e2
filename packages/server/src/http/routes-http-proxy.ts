// Where the port proxy serves port URLs (`warren port ls|set|open` build URLs from it).
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, type HttpProxyInfo } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { callerOf } from "./auth.ts";
import { errors } from "./schemas-response.ts";

export const HttpProxyInfoSchema = Type.Object({
  listening: Type.Boolean({ description: "false when this server runs no port proxy" }),
  host: Type.String({ description: "the address it listens on (empty when not listening)" }),
  port: Type.Integer({ description: "its TCP port (0 when not listening)" }),
  baseDomain: Type.String({ description: "port URLs are <port>--<env>--<org>.<baseDomain>" }),
  scheme: Type.Union([Type.Literal("http"), Type.Literal("https")]),
});

const NOT_LISTENING: HttpProxyInfo = { listening: false, host: "", port: 0, baseDomain: "", scheme: "http" };

export function httpProxyRoutes(
  app: FastifyInstance,
  info: (() => HttpProxyInfo | undefined) | undefined,
): void {
  app.get(
    `${API_PREFIX}/http/proxy`,
    {
      schema: {
        operationId: "getHttpProxy",
        tags: ["system"],
        summary: "The port proxy's address, base domain and scheme.",
        response: { 200: HttpProxyInfoSchema, ...errors("UNAUTHENTICATED", "FORBIDDEN") },
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
export type _Checks = [Assert<Same<Static<typeof HttpProxyInfoSchema>, HttpProxyInfo>>];
