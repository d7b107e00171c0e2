// `warren port open`: a one-time sign-in link for a private or org port's URL (ingress/port-signin.ts).
// The link carries a single-use code, never a token; the proxy exchanges it for a session cookie.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { PortSignIn } from "../ingress/port-signin.ts";
import { callerOf } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { errors } from "./schemas-response.ts";

const PortParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  port: Type.String({ pattern: "^[0-9]{1,5}$", description: "TCP port inside the environment, 1-65535." }),
});
type PortParams = Static<typeof PortParams>;

export const PortSignInLinkSchema = Type.Object({
  url: Type.String({
    description: "<port URL>/__warren/auth?code=…: open it in a browser within 60 s, once.",
  }),
  expiresAt: Type.String({ description: "When the code stops working (ISO 8601)." }),
});

export function portSignInRoutes(
  app: FastifyInstance,
  deps: Pick<HttpDeps, "envs">,
  signIn: PortSignIn | undefined,
): void {
  app.post<{ Params: PortParams }>(
    `${API_PREFIX}/environments/:name/ports/:port/signin-link`,
    {
      schema: {
        operationId: "portSignInLink",
        tags: ["environments"],
        summary: "A one-time sign-in link for a port URL (what `warren port open` opens).",
        description:
          "The port's URL with a single-use code (valid for 60 s, bound to that URL's host) that the " +
          "port proxy exchanges for a session cookie. Only users the port's visibility admits get one: " +
          "the owner for a private port, members for an org port.",
        params: PortParams,
        response: {
          200: PortSignInLinkSchema,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "ENV_NOT_FOUND"),
        },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const port = Number(req.params.port);
      reply.header("cache-control", "no-store");
      if (!signIn) {
        // Same answers as with a proxy for environments the caller may not see.
        await deps.envs.find(caller, req.params.name);
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "this server runs no port proxy, so ports have no URLs; start the daemon with --http-listen HOST:PORT",
        );
      }
      return signIn.link(caller, req.params.name, port);
    },
  );
}
