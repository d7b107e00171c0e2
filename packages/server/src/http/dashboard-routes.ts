// The dashboard's session API (on the control-plane host, ingress/control-host.ts):
//   POST /api/v1/auth/dashboard/session {token}  a token pasted once becomes a cookie session
//   GET  /api/v1/auth/dashboard/session          the caller's own session and its CSRF token
//   POST /api/v1/auth/dashboard/signout          ends it, clears the cookie
//   POST /api/v1/auth/dashboard/link             `warren dashboard`: a one-time link (60 s, one use)
//   GET  /api/v1/auth/dashboard/oidc             OIDC sign-in, where configured (dashboard-oidc.ts)
// They sit under the public sign-in prefix (http/auth.ts), so each checks its caller itself: the
// session routes read the cookie and the Origin (a page elsewhere, a port URL of the same site
// included, must not sign someone in or out), the link route needs a token or root on the socket.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, type HttpProxyInfo, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { controlHostName, dashboardUrl } from "../ingress/control-host.ts";
import type { DashboardGrant } from "../ingress/dashboard-sessions.ts";
import { SESSION_TTL_MS } from "../ingress/port-sessions.ts";
import type { Principal, UserActor } from "../services/actor.ts";
import type { IdentityService } from "../services/identity.ts";
import type { OidcService } from "../services/oidc.ts";
import { callerOf } from "./auth.ts";
import type { AuthFailureGuard } from "./auth-failures.ts";
import {
  type DashboardCookieAuth,
  dashboardCookie,
  foreignOrigin,
  schemeOf,
  sessionOfCookie,
} from "./dashboard-auth.ts";
import { dashboardOidcOffered, dashboardOidcRoutes } from "./dashboard-oidc.ts";
import { REDEEM_PATH } from "./dashboard-site.ts";
import { errors } from "./schemas-response.ts";

export const DASHBOARD_AUTH_PREFIX = `${API_PREFIX}/auth/dashboard`;

const SignInBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512, description: "A Warren user token (wrn_...)." }) },
  { additionalProperties: false },
);
type SignInBody = Static<typeof SignInBody>;
const Role = Type.Union([Type.Literal("owner"), Type.Literal("admin"), Type.Literal("member")]);
const SessionInfo = Type.Object({
  csrf: Type.String({
    description: "Send it as X-Warren-CSRF on every other API call (a WebSocket: subprotocol csrf.<token>).",
  }),
  user: Type.String({ description: "The user's name." }),
  org: Type.String({ description: "The organisation's name." }),
  role: Role,
});
const CurrentSession = Type.Composite([
  SessionInfo,
  Type.Object({
    via: Type.Union([Type.Literal("token"), Type.Literal("link"), Type.Literal("oidc")], {
      description: "How the session signed in.",
    }),
  }),
]);
const DashboardLink = Type.Object({
  url: Type.String({
    description: "<dashboard>/auth/redeem?code=…: open it in a browser within 60 s, once.",
  }),
  expiresAt: Type.String({ description: "When the code stops working (ISO 8601)." }),
});
const doc = (operationId: string, summary: string) => ({ operationId, tags: ["auth"], summary });

export function dashboardRoutes(
  app: FastifyInstance,
  o: {
    cookies: DashboardCookieAuth | undefined;
    identity: IdentityService | undefined;
    httpProxy: (() => HttpProxyInfo | undefined) | undefined;
    failures?: AuthFailureGuard | undefined;
    /** OIDC sign-in (services/oidc.ts); the dashboard offers it when it is configured. */
    oidc?: OidcService | undefined;
  },
): void {
  dashboardOidcRoutes(app, o);
  const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");
  const cookies = (): DashboardCookieAuth => {
    if (!o.cookies)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        "this server does not serve the dashboard; start the daemon with --http-listen HOST:PORT",
      );
    return o.cookies;
  };
  /** Sign-in and sign-out change who the browser is: only the dashboard's own page may ask. */
  const ownPageOnly = (req: FastifyRequest) => {
    const foreign = foreignOrigin(req.raw);
    if (foreign) throw new WarrenError("FORBIDDEN", `refused: ${foreign}`);
  };
  const names = async (actor: UserActor) => {
    const w = await o.identity?.whoami(actor);
    return { user: w?.user.name ?? actor.userId, org: w?.org.name ?? actor.orgId };
  };

  app.post<{ Body: SignInBody }>(
    `${DASHBOARD_AUTH_PREFIX}/session`,
    {
      schema: {
        ...doc("dashboardSignIn", "Exchange a token, pasted once, for a dashboard session cookie."),
        description:
          "Sets `warren_session` (HttpOnly, SameSite=Lax, host-only, Secure over https) and returns the " +
          "session's CSRF token. Only from the dashboard's own page (Origin). The token is not kept.",
        body: SignInBody,
        response: {
          200: SessionInfo,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "RATE_LIMITED"),
        },
      },
    },
    async (req, reply) => {
      const c = cookies();
      ownPageOnly(req);
      if (!o.identity) throw new WarrenError("UNAUTHENTICATED", "this server does not accept tokens");
      o.failures?.check(req, reply);
      let p: Principal;
      try {
        p = await o.identity.authenticate(req.body.token.trim());
      } catch (err) {
        o.failures?.failed(req, err);
        throw err;
      }
      if (p.kind !== "user")
        throw new WarrenError("FORBIDDEN", "runner tokens cannot sign in to the dashboard; use a user token");
      if ((p.scopes ?? []).length > 0)
        throw new WarrenError(
          "FORBIDDEN",
          `a token limited to ${(p.scopes ?? []).join(", ")} cannot sign in to the dashboard; use a token without scopes`,
        );
      const grant: DashboardGrant = {
        host: req.headers.host ?? "",
        userId: p.userId,
        orgId: p.orgId,
        role: p.role,
        tokenId: p.tokenId,
        via: "token",
      };
      const s = c.sessions.open(grant);
      reply.header("set-cookie", dashboardCookie(s.id, Math.floor(SESSION_TTL_MS / 1000), schemeOf(req.raw)));
      return noStore(reply).send({ csrf: s.csrf, ...(await names(p)), role: p.role });
    },
  );

  app.get(
    `${DASHBOARD_AUTH_PREFIX}/session`,
    {
      schema: {
        ...doc(
          "dashboardSession",
          "The caller's dashboard session and its CSRF token (the page calls it on load).",
        ),
        description:
          "Read with the session cookie, from the dashboard's own page; no CSRF header is needed (it returns " +
          "only the caller's own session, which no other origin can read). 401 without a live session; " +
          "its `details.oidc` is true when the sign-in page may offer OIDC (GET /auth/oidc on the dashboard).",
        response: { 200: CurrentSession, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req, reply) => {
      if (req.headers.authorization !== undefined)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "a dashboard session is read with its cookie; a bearer token has none (see GET /api/v1/whoami)",
        );
      if (!o.cookies)
        throw new WarrenError(
          "UNAUTHENTICATED",
          "there is no dashboard session: this server does not serve the dashboard (start the daemon with --http-listen HOST:PORT)",
        );
      const { session, actor } = await o.cookies.current(req).catch((err: unknown) => {
        // The sign-in page reads from this 401 whether to offer OIDC; only `true` is ever said.
        if (err instanceof WarrenError && err.code === "UNAUTHENTICATED" && dashboardOidcOffered(o))
          throw new WarrenError(err.code, err.message, { ...err.details, oidc: true });
        throw err;
      });
      ownPageOnly(req);
      return noStore(reply).send({
        csrf: session.csrf,
        ...(await names(actor)),
        role: actor.role,
        via: session.via,
      });
    },
  );

  app.post(
    `${DASHBOARD_AUTH_PREFIX}/signout`,
    {
      schema: {
        ...doc("dashboardSignOut", "End the dashboard session and clear its cookie."),
        description: "With a live session, only from the dashboard's own page with the CSRF token.",
        response: {
          204: Type.Null({ description: "Signed out (also when there was no session)" }),
          ...errors("FORBIDDEN"),
        },
      },
    },
    async (req, reply) => {
      const c = o.cookies;
      if (c && sessionOfCookie(req.raw, c.sessions)) {
        // A page elsewhere must not sign the person out: the full cookie check, CSRF included.
        await c.authenticate(req).catch((err: unknown) => {
          if (err instanceof WarrenError && err.code === "UNAUTHENTICATED") return undefined;
          throw err;
        });
        const s = sessionOfCookie(req.raw, c.sessions);
        if (s) c.sessions.end(s.id);
      }
      reply.header("set-cookie", dashboardCookie("", 0, schemeOf(req.raw)));
      return noStore(reply).status(204).send();
    },
  );

  app.post(
    `${DASHBOARD_AUTH_PREFIX}/link`,
    {
      schema: {
        ...doc(
          "dashboardLink",
          "A one-time sign-in link for the dashboard (what `warren dashboard` prints).",
        ),
        description:
          "For a token's user, or root on the local socket (as the first organisation's owner). The link's " +
          "code is good for 60 s, once; redeeming it sets the session cookie and redirects to the dashboard. " +
          "Revoking the token ends the session.",
        response: {
          200: DashboardLink,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN"),
        },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const c = cookies();
      const info = o.httpProxy?.();
      if (!info?.listening)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "this server runs no ingress HTTP listener, so the dashboard has no address; start the daemon with --http-listen HOST:PORT",
        );
      const { code, expiresAt } = c.sessions.issueCode({
        host: controlHostName(info.baseDomain),
        userId: caller.userId,
        orgId: caller.orgId,
        role: caller.role,
        tokenId: caller.tokenId,
        via: "link",
      });
      const url = new URL(REDEEM_PATH, dashboardUrl(info));
      url.searchParams.set("code", code);
      return noStore(reply).send({ url: url.toString(), expiresAt: new Date(expiresAt).toISOString() });
    },
  );
}
