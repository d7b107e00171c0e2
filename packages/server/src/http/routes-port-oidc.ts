// OIDC sign-in for port URLs. A visit to a private or org port without a session is sent here
// (the proxy's port-auth.ts signInUrl), on the control plane's own origin: the browser signs in at
// the identity provider through the ordinary flow (services/oidc.ts: PKCE, state, nonce, a cookie
// binding it to this browser), and the flow row, not the browser, remembers the (environment,
// port). The callback then asks the port sign-in (ingress/port-signin.ts) for the single-use link
// to that port's URL, worked out from the row alone, and redirects there. No token is minted.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { NOT_FOUND_PAGE, sendPage } from "../ingress/http-proxy-pages.ts";
import type { PortSignIn } from "../ingress/port-signin.ts";
import { FLOW_TTL_MS, type OidcService, type PortFlowResult } from "../services/oidc.ts";
import { errors } from "./schemas-response.ts";
import { flowCookieName, setCookie } from "./signin-cookies.ts";

export const PORT_OIDC_START_PATH = `${API_PREFIX}/auth/port-signin`;

const StartQuery = Type.Object({
  env: Type.String({ pattern: "^[A-Za-z0-9_-]{1,100}$", description: "The environment's id." }),
  port: Type.String({ pattern: "^[0-9]{1,5}$", description: "TCP port inside the environment, 1-65535." }),
});
type StartQuery = Static<typeof StartQuery>;

/** Where the proxy sends a visitor without a session: this route on the control plane's origin. */
export function portOidcSignInUrl(redirectUrl: string, t: { envId: string; port: number }): string {
  const u = new URL(PORT_OIDC_START_PATH, new URL(redirectUrl).origin);
  u.searchParams.set("env", t.envId);
  u.searchParams.set("port", String(t.port));
  return u.toString();
}

export function portOidcRoutes(app: FastifyInstance, oidc: OidcService | undefined): void {
  app.get<{ Querystring: StartQuery }>(
    PORT_OIDC_START_PATH,
    {
      schema: {
        operationId: "portOidcStart",
        tags: ["auth"],
        summary:
          "Start an OIDC sign-in for a port URL: redirects to the identity provider, and after it to " +
          "the port's URL with a single-use code, if the port admits the person.",
        querystring: StartQuery,
        response: {
          302: Type.Null({ description: "Redirect to the identity provider" }),
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    async (req, reply) => {
      if (!oidc)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "OIDC sign-in is not configured on this server; sign in to a port with `warren port open ENV PORT`",
        );
      const port = Number(req.query.port);
      if (port < 1 || port > 65535)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `port ${port} is out of range; give a TCP port from 1 to 65535`,
        );
      const f = await oidc.startForPort(req.query.env, port);
      setCookie(reply, flowCookieName(f.state), f.binding, {
        ...oidc.callbackScope(),
        maxAgeS: FLOW_TTL_MS / 1000,
        sameSite: "Lax",
      });
      return reply.header("cache-control", "no-store").redirect(f.url, 302);
    },
  );
}

/**
 * The end of a port sign-in at the OIDC callback: a redirect to the port's one-time link. Someone
 * the port does not admit, like a port of an unknown environment, gets the proxy's not-found page.
 */
export async function landOnPort(
  reply: FastifyReply,
  portSignIn: PortSignIn | undefined,
  r: PortFlowResult,
): Promise<FastifyReply> {
  reply.header("cache-control", "no-store");
  if (!portSignIn)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "this server runs no port proxy, so ports have no URLs; start the daemon with --http-listen HOST:PORT",
    );
  let url: string;
  try {
    ({ url } = await portSignIn.linkForOidc(r, r.port.envId, r.port.port));
  } catch (err) {
    if (!(err instanceof WarrenError) || !["ENV_NOT_FOUND", "FORBIDDEN"].includes(err.code)) throw err;
    reply.hijack();
    sendPage(reply.raw, NOT_FOUND_PAGE);
    return reply;
  }
  return reply.redirect(url, 302);
}
