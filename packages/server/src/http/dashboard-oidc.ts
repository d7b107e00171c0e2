// OIDC sign-in for the dashboard, on the machinery of the port sign-in (routes-port-oidc.ts):
//   GET /auth/oidc on the dashboard host (dashboard-site.ts) redirects here, to
//   GET /api/v1/auth/dashboard/oidc on the origin of the OIDC callback, which starts the ordinary
//   browser flow (services/oidc.ts: PKCE, state, nonce, a cookie binding it to this browser; the
//   cookie must be set on the callback's origin, which may not be the dashboard's). The flow row
//   names the dashboard host, worked out here from the server's own listener, never from the
//   request. The callback (routes-auth.ts) then lands on landOnDashboard: a one-time dashboard code
//   (60 s, one use) for that host, redeemed at /auth/redeem, which sets the session cookie and
//   redirects to `/`. No Warren token is minted; the session lives on the membership alone.
import { Type } from "@sinclair/typebox";
import { type HttpProxyInfo, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { controlHostName, dashboardUrl } from "../ingress/control-host.ts";
import { type DashboardFlowResult, FLOW_TTL_MS, type OidcService } from "../services/oidc.ts";
import type { DashboardCookieAuth } from "./dashboard-auth.ts";
import { REDEEM_PATH } from "./dashboard-site.ts";
import { errors } from "./schemas-response.ts";
import { flowCookieName, setCookie } from "./signin-cookies.ts";

export const DASHBOARD_OIDC_START_PATH = "/api/v1/auth/dashboard/oidc";

export interface DashboardOidcDeps {
  oidc?: OidcService | undefined;
  cookies: DashboardCookieAuth | undefined;
  httpProxy: (() => HttpProxyInfo | undefined) | undefined;
}

/** Where the dashboard's /auth/oidc sends the browser: the start, on the OIDC callback's origin. */
export function dashboardOidcStartUrl(oidcRedirectUrl: string): string {
  return new URL(DASHBOARD_OIDC_START_PATH, new URL(oidcRedirectUrl).origin).toString();
}

/** Whether the dashboard offers OIDC sign-in: OIDC is set up and the dashboard is served. */
export const dashboardOidcOffered = (d: DashboardOidcDeps): boolean =>
  d.oidc?.configured() === true && d.cookies !== undefined;

/** The dashboard's listener and sessions, or a clear refusal when this server serves no dashboard. */
function served(d: Omit<DashboardOidcDeps, "oidc">): { info: HttpProxyInfo; cookies: DashboardCookieAuth } {
  const info = d.httpProxy?.();
  if (!d.cookies || !info?.listening)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "this server serves no dashboard (no ingress HTTP listener); start the daemon with --http-listen HOST:PORT",
    );
  return { info, cookies: d.cookies };
}

export function dashboardOidcRoutes(app: FastifyInstance, d: DashboardOidcDeps): void {
  app.get(
    DASHBOARD_OIDC_START_PATH,
    {
      schema: {
        operationId: "dashboardOidcStart",
        tags: ["auth"],
        summary:
          "Start an OIDC sign-in for the dashboard: redirects to the identity provider, and after it to " +
          "the dashboard's one-time sign-in link.",
        description:
          "The dashboard's /auth/oidc redirects here (the OIDC callback's origin, where the sign-in cookie " +
          "must be set). The sign-in ends on this server's own dashboard host; it takes no parameters.",
        response: {
          302: Type.Null({ description: "Redirect to the identity provider" }),
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    async (_req, reply) => {
      const oidc = d.oidc;
      if (!oidc?.configured())
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "OIDC sign-in is not configured on this server; sign in to the dashboard with a token, or run `warren dashboard`",
        );
      const { info } = served(d);
      const f = await oidc.startForDashboard(controlHostName(info.baseDomain));
      setCookie(reply, flowCookieName(f.state), f.binding, {
        ...oidc.callbackScope(),
        maxAgeS: FLOW_TTL_MS / 1000,
        sameSite: "Lax",
      });
      return reply.header("cache-control", "no-store").redirect(f.url, 302);
    },
  );
}

/** The end of a dashboard sign-in at the OIDC callback: a redirect to the dashboard's one-time link. */
export function landOnDashboard(
  d: Omit<DashboardOidcDeps, "oidc">,
): (reply: FastifyReply, r: DashboardFlowResult) => FastifyReply {
  return (reply, r) => {
    reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
    const { info, cookies } = served(d);
    const { code } = cookies.sessions.issueCode({
      host: r.dashboard.host,
      userId: r.userId,
      orgId: r.orgId,
      role: r.role,
      via: "oidc",
    });
    const url = new URL(REDEEM_PATH, dashboardUrl(info));
    url.searchParams.set("code", code);
    return reply.redirect(url.toString(), 302);
  };
}
