// The dashboard's cookie, as an API credential (http/auth.ts calls authenticate() for a request
// with no Authorization header that does not come over the local socket).
//
// A cookie alone never authenticates: browsers attach it to requests other pages make. Port URLs
// share the dashboard's registrable domain (`3000--dev--acme.warren.test` and `warren.test` are one
// "site"), so SameSite=Lax does not keep an environment's page from sending it. A request
// authenticates with the cookie only if, as well:
// - it carries the session's CSRF token: the X-Warren-CSRF header, or for a WebSocket (whose
//   headers a browser cannot set) a `csrf.<token>` subprotocol. Other pages cannot read the token:
//   it comes from GET /api/v1/auth/dashboard/session, which no other origin can read (no CORS);
// - it comes from the dashboard's own origin: an Origin header equal to scheme://host:port this
//   request came to, or, for a GET or HEAD without Origin (Chrome sends none on same-origin GETs),
//   `Sec-Fetch-Site: same-origin`. Anything else is refused, never waved through.
// The role is read from the store on every request, as for a token, so a demotion takes effect at
// once; a revoked or expired token, or a removed member, ends the session here too.
import type { IncomingMessage } from "node:http";
import { WarrenError } from "@warren/protocol";
import type { FastifyRequest } from "fastify";
import { type Clock, isoNow } from "../clock.ts";
import type { DashboardSession, DashboardSessions } from "../ingress/dashboard-sessions.ts";
import { sessionActor } from "../ingress/dashboard-sessions.ts";
import type { UserActor } from "../services/actor.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { getRole, getToken } from "../store/queries/identity.ts";
import { cookieString, tokensMatch } from "./signin-cookies.ts";

export const DASHBOARD_COOKIE = "warren_session";
export const CSRF_HEADER = "x-warren-csrf";
/** The exec WebSocket's subprotocols from the dashboard: `["warren.exec", "csrf.<token>"]`. */
export const EXEC_PROTOCOL = "warren.exec";
export const CSRF_PROTOCOL_PREFIX = "csrf.";

const SAFE = new Set(["GET", "HEAD"]);

/** The session a request was authenticated with, for streams that must end with it. */
const byRequest = new WeakMap<IncomingMessage, { sessions: DashboardSessions; id: string }>();

export interface DashboardCookieAuth {
  sessions: DashboardSessions;
  /** Whether the request carries a dashboard cookie at all (without one, auth.ts goes on as before). */
  hasCookie(req: FastifyRequest): boolean;
  /** The principal of a cookie + CSRF + Origin request; a WarrenError (401/403) saying why not. */
  authenticate(req: FastifyRequest): Promise<UserActor>;
  /** The cookie's session and its user now, without the CSRF and Origin checks (the session routes); or a 401. */
  current(req: FastifyRequest): Promise<{ session: DashboardSession; actor: UserActor }>;
}

/** The session cookie: host-only, HttpOnly, SameSite=Lax, Path=/, Secure over https; empty and 0 clears it. */
export function dashboardCookie(value: string, maxAgeS: number, scheme: "http" | "https"): string {
  return cookieString(DASHBOARD_COOKIE, value, {
    path: "/",
    maxAgeS,
    sameSite: "Lax",
    secure: scheme === "https",
  });
}

/** Every value of the dashboard cookie: one tossed in from a parent domain must not shadow ours. */
export function cookieValues(header: string | undefined): string[] {
  return (header ?? "").split(";").flatMap((part) => {
    const i = part.indexOf("=");
    if (i <= 0 || part.slice(0, i).trim() !== DASHBOARD_COOKIE) return [];
    const v = part.slice(i + 1).trim();
    // Values are base64url; anything else cannot be ours (and is not looked up).
    return /^[A-Za-z0-9_-]{1,100}$/.test(v) ? [v] : [];
  });
}

/** The scheme the request reached this listener with: https on a TLS socket. */
export function schemeOf(req: IncomingMessage): "http" | "https" {
  return (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
}

/** `scheme://host[:port]` of the dashboard as this request reached it, normalised like an Origin. */
export function dashboardOrigin(req: IncomingMessage): string | undefined {
  return normalOrigin(`${schemeOf(req)}://${req.headers.host ?? ""}`);
}

function normalOrigin(o: string): string | undefined {
  try {
    const u = new URL(o);
    return u.origin === "null" || u.host === "" ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** Why this request is not from the dashboard's own origin, or undefined when it is. */
export function foreignOrigin(req: IncomingMessage): string | undefined {
  const mine = dashboardOrigin(req);
  const origin = req.headers.origin;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin")
    return `the browser says this request came from another site or origin (Sec-Fetch-Site: ${site})`;
  if (origin !== undefined) {
    if (mine !== undefined && normalOrigin(origin) === mine) return undefined;
    return `its Origin ${origin} is not the dashboard's own (${mine ?? "unknown"})`;
  }
  const upgrade = (req.headers.upgrade ?? "").toLowerCase() === "websocket";
  if (!upgrade && SAFE.has((req.method ?? "GET").toUpperCase()) && site === "same-origin") return undefined;
  return "it has no Origin header (and a GET without one must carry Sec-Fetch-Site: same-origin)";
}

/** The CSRF token the request carries: its header, or a WebSocket's `csrf.` subprotocol. */
export function csrfOf(req: IncomingMessage): string | undefined {
  if ((req.headers.upgrade ?? "").toLowerCase() === "websocket") {
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const p = offered.find((x) => x.startsWith(CSRF_PROTOCOL_PREFIX));
    return p?.slice(CSRF_PROTOCOL_PREFIX.length) || undefined;
  }
  const h = req.headers[CSRF_HEADER];
  return (Array.isArray(h) ? h[0] : h) || undefined;
}

/** The live session one of the request's cookies names on the host it came to. */
export function sessionOfCookie(
  req: IncomingMessage,
  sessions: DashboardSessions,
): DashboardSession | undefined {
  const host = req.headers.host ?? "";
  for (const v of cookieValues(req.headers.cookie)) {
    const s = sessions.lookup(v, host);
    if (s) return s;
  }
  return undefined;
}

/**
 * Calls `cb` when the dashboard session a request was authenticated with ends (sign-out,
 * revocation, expiry); undefined for requests authenticated otherwise. Streams use it.
 */
export function onDashboardSessionEnd(
  req: FastifyRequest,
  cb: (why: string) => void,
): (() => void) | undefined {
  const s = byRequest.get(req.raw);
  return s ? s.sessions.onEnd(s.id, cb) : undefined;
}

/** Whether the request was authenticated with a dashboard cookie (not a token or the local socket). */
export function viaDashboardCookie(req: FastifyRequest): boolean {
  return byRequest.has(req.raw);
}

export function createDashboardCookieAuth(o: {
  sessions: DashboardSessions;
  db: Queryable;
  clock: Clock;
}): DashboardCookieAuth {
  const { sessions } = o;

  /** The cookie's live session and its user as of now (the role re-read), or a 401. */
  async function current(req: FastifyRequest): Promise<{ session: DashboardSession; actor: UserActor }> {
    const s = sessionOfCookie(req.raw, sessions);
    if (!s)
      throw new WarrenError(
        "UNAUTHENTICATED",
        "the dashboard session is unknown or has ended; sign in to the dashboard again",
      );
    const role = await getRole(o.db, s.orgId, s.userId);
    const tok = s.tokenId ? await getToken(o.db, s.tokenId) : undefined;
    let gone: string | undefined;
    if (!role) gone = "you are no longer a member of this organisation";
    else if (s.tokenId && (!tok || tok.revoked_at !== null))
      gone = `token ${s.tokenId}, which signed in this session, was revoked`;
    else if (tok && tok.expires_at <= isoNow(o.clock))
      gone = `token ${s.tokenId}, which signed in this session, expired`;
    if (gone !== undefined || !role) {
      sessions.end(s.id);
      throw new WarrenError("UNAUTHENTICATED", `the dashboard session has ended: ${gone}; sign in again`);
    }
    return { session: s, actor: { ...sessionActor(s), role } };
  }

  return {
    sessions,
    current,
    hasCookie: (req) => cookieValues(req.headers.cookie).length > 0,
    async authenticate(req) {
      const { session, actor } = await current(req);
      const foreign = foreignOrigin(req.raw);
      if (foreign) throw new WarrenError("FORBIDDEN", `a dashboard session was refused: ${foreign}`);
      const csrf = csrfOf(req.raw);
      if (!csrf)
        throw new WarrenError(
          "FORBIDDEN",
          `a dashboard session needs its CSRF token: send the ${CSRF_HEADER} header (a WebSocket: the ` +
            `"${CSRF_PROTOCOL_PREFIX}<token>" subprotocol) with the csrf value of GET /api/v1/auth/dashboard/session`,
        );
      if (!tokensMatch(csrf, session.csrf))
        throw new WarrenError(
          "FORBIDDEN",
          "the CSRF token does not match this dashboard session; reload the page",
        );
      byRequest.set(req.raw, { sessions, id: session.id });
      return actor;
    },
  };
}
