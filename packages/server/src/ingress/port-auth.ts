// Who may use a port URL, decided per request by the port proxy before it dials anything.
//
// - public: anyone (the actor is the signed-in user when there is a session, else undefined);
// - org: any member of the environment's organisation with a session for this host;
// - private: the environment's owner with a session for this host.
// A visitor without a session is sent to sign in; a signed-in user the port does not admit gets
// the same 404 as a port that does not exist, so a URL says nothing about someone else's work.
//
// Sessions come from single-use codes (port-sessions.ts) exchanged at /__warren/auth on the port
// host itself, and live in a host-only cookie: HttpOnly, SameSite=Lax, Path=/, and on HTTPS
// `__Host-` + Secure, so no other host (another port, another environment) can read or set it.
//
// Port URLs of different environments share one registrable domain unless the operator puts the
// base domain on the Public Suffix List; to the browser they are then one "site", and SameSite=Lax
// cookies ride along on requests one environment's page makes to another's. So, for private and
// org ports:
// - a state-changing request (anything but GET, HEAD, OPTIONS) whose Origin (or, without one, its
//   Referer) is a port host of another environment is refused, and so is Origin "null" (what a
//   cross-origin redirect or a sandboxed frame sends, both of which a same-site page can arrange);
// - a WebSocket upgrade must come from the port host itself or another port of the same
//   environment. An upgrade without Origin is let through: browsers always send Origin on
//   WebSocket requests, so a missing one is a non-browser client, which holds the cookie itself.
// Requests from unrelated sites need no rule here: SameSite=Lax keeps the cookie off them.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Actor } from "../services/actor.ts";
import {
  admits,
  type PortSession,
  type PortSessions,
  type PortVisibility,
  SESSION_TTL_MS,
} from "./port-sessions.ts";
import { normalizeHost } from "./signin-codes.ts";

export type PortDecision =
  | { kind: "allow"; actor?: Actor; sessionId?: string }
  | { kind: "redirect"; location: string }
  | { kind: "deny"; status: 403 | 404; message: string };

export interface PortTarget {
  envId: string;
  orgId: string;
  ownerId: string;
  port: number;
  /** The Host the request came with (validated by the proxy). */
  host: string;
  visibility: PortVisibility;
}

export interface PortAuth {
  decide(req: IncomingMessage, target: PortTarget): Promise<PortDecision>;
  /** The proxy's own paths on a port host (/__warren/auth, /__warren/signout, /__warren/signin); true if handled. */
  handleAuthPath(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Why a state-changing request or WebSocket upgrade is refused (another environment's page), or undefined. */
  csrfRefused(req: IncomingMessage, target: PortTarget): string | undefined;
  /** Calls `cb` when the session ends (sign-out, revocation, stricter visibility); returns an unsubscribe. */
  onSessionEnd(sessionId: string, cb: (why: string) => void): () => void;
}

/** What a port host names, as the proxy's host parser (port-host.ts parsePortHost) reads it. */
export type ParsedHost = { port: number; env: string; org?: string } | { error: number; message: string };

export const PORT_COOKIE = "warren_port";
export const PORT_COOKIE_SECURE = "__Host-warren_port";
/** Both names: the proxy strips either from what it forwards to the app. */
export const PORT_COOKIE_NAMES: readonly string[] = [PORT_COOKIE, PORT_COOKIE_SECURE];
export const AUTH_PATH = "/__warren/auth";
export const SIGNOUT_PATH = "/__warren/signout";
export const SIGNIN_PATH = "/__warren/signin";
/** The message of the 404 for a signed-in user a port does not admit: the same as an unknown port's. */
export const PORT_NOT_FOUND = "no such environment port here";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function createPortAuth(o: {
  sessions: PortSessions;
  /** The proxy's scheme: the cookie's name and Secure, and the origin WebSocket upgrades must have. */
  scheme: "http" | "https";
  /** The port-host parser bound to the base domain (port-host.ts parsePortHost). */
  parseHost: (host: string) => ParsedHost;
  /**
   * Where a visitor without a session signs in: the control plane's port sign-in (OIDC) for this
   * target. Undefined (no OIDC): the port host's own page explaining `warren port open`.
   */
  signInUrl?: ((target: PortTarget) => string | undefined) | undefined;
}): PortAuth {
  const { sessions, scheme } = o;
  const cookieName = scheme === "https" ? PORT_COOKIE_SECURE : PORT_COOKIE;

  /** Every session cookie value the browser sent: a value tossed in from a parent domain must not shadow ours. */
  const cookieValues = (req: IncomingMessage): string[] =>
    (req.headers.cookie ?? "").split(";").flatMap((part) => {
      const i = part.indexOf("=");
      if (i <= 0 || part.slice(0, i).trim() !== cookieName) return [];
      const v = part.slice(i + 1).trim();
      return v ? [v] : [];
    });

  const sessionOf = (req: IncomingMessage, host: string): PortSession | undefined => {
    for (const v of cookieValues(req)) {
      const s = sessions.lookup(v, host);
      if (s) return s;
    }
    return undefined;
  };

  const cookie = (value: string, maxAgeS: number) =>
    [
      `${cookieName}=${value}`,
      "Path=/",
      `Max-Age=${maxAgeS}`,
      "HttpOnly",
      "SameSite=Lax",
      ...(scheme === "https" ? ["Secure"] : []),
    ].join("; ");

  /** Environment identity of a host (label and organisation), or undefined if it is no port host. */
  const envOf = (host: string): string | undefined => {
    const p = o.parseHost(host.trim().toLowerCase());
    return "error" in p ? undefined : `${p.env}\u0000${p.org ?? ""}`;
  };

  const send = (res: ServerResponse, status: number, title: string, body: string, headers = {}) => {
    const html = page(title, body);
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(html),
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      ...headers,
    });
    res.end(html);
  };

  const portCommand = (host: string) => {
    const p = o.parseHost(host.trim().toLowerCase());
    return "error" in p ? "warren port open ENV PORT" : `warren port open ${p.env} ${p.port}`;
  };

  return {
    async decide(req, target) {
      const s = sessionOf(req, target.host);
      if (s && s.envId === target.envId && s.port === target.port) {
        if (admits(target.visibility, s, { envOrgId: target.orgId, ownerId: target.ownerId }))
          return { kind: "allow", actor: s.actor, sessionId: s.id };
        return { kind: "deny", status: 404, message: PORT_NOT_FOUND };
      }
      if (target.visibility === "public") return { kind: "allow" };
      return { kind: "redirect", location: o.signInUrl?.(target) ?? SIGNIN_PATH };
    },

    async handleAuthPath(req, res) {
      const url = new URL(req.url ?? "/", "http://port.invalid");
      const host = req.headers.host ?? "";
      const method = req.method ?? "GET";
      if (url.pathname === AUTH_PATH) {
        if (method !== "GET" && method !== "HEAD") {
          send(res, 405, "Method not allowed", "<p>Open the sign-in link in a browser.</p>", {
            allow: "GET",
          });
          return true;
        }
        const code = url.searchParams.get("code") ?? "";
        const r = code
          ? sessions.exchange(code, host)
          : { ok: false as const, reason: "the link has no code" };
        if (!r.ok) {
          send(
            res,
            400,
            "Sign-in link not accepted",
            `<p>${esc(r.reason)}.</p><p>Run <code>${esc(portCommand(host))}</code> for a new link.</p>`,
          );
          return true;
        }
        res.writeHead(302, {
          location: "/",
          "set-cookie": cookie(r.session.id, Math.floor(SESSION_TTL_MS / 1000)),
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
          "content-length": 0,
        });
        res.end();
        return true;
      }
      if (url.pathname === SIGNOUT_PATH) {
        // GET works too, so a plain link signs out; the worst a forged one does is sign someone out.
        for (const v of cookieValues(req)) if (sessions.lookup(v, host)) sessions.end(v);
        send(
          res,
          200,
          "Signed out",
          `<p>You are signed out of this port URL. <code>${esc(portCommand(host))}</code> signs in again.</p>`,
          { "set-cookie": cookie("", 0) },
        );
        return true;
      }
      if (url.pathname === SIGNIN_PATH) {
        send(
          res,
          401,
          "Sign in to this port",
          "<p>This port URL is private to its environment's owner, or to its organisation.</p>" +
            `<p>To open it, run <code>${esc(portCommand(host))}</code> where your <code>warren</code> is ` +
            "logged in: it prints a one-time sign-in link (valid for 60 seconds) for this URL.</p>",
        );
        return true;
      }
      return false;
    },

    csrfRefused(req, target) {
      if (target.visibility === "public") return undefined;
      const upgrade = (req.headers.upgrade ?? "").toLowerCase() === "websocket";
      const origin = req.headers.origin;
      if (upgrade) {
        if (origin === undefined) return undefined;
        const from = originHost(origin);
        if (from !== undefined && origin.toLowerCase().startsWith(`${scheme}://`)) {
          if (normalizeHost(from) === normalizeHost(target.host)) return undefined;
          const mine = envOf(target.host);
          if (mine !== undefined && envOf(from) === mine) return undefined;
        }
        return `WebSocket refused: its Origin ${origin} is not this port URL or another port of its environment`;
      }
      if (SAFE_METHODS.has((req.method ?? "GET").toUpperCase())) return undefined;
      const referer = req.headers.referer;
      const source = origin ?? (referer !== undefined ? originOf(referer) : undefined);
      if (source === undefined) return undefined;
      if (source === "null")
        return `${req.method} refused: it came from an opaque origin (a redirect or a sandboxed frame)`;
      const from = originHost(source);
      if (from === undefined) return `${req.method} refused: its Origin ${source} cannot be read`;
      if (normalizeHost(from) === normalizeHost(target.host)) return undefined;
      const theirs = envOf(from);
      if (theirs === undefined || theirs === envOf(target.host)) return undefined;
      return `${req.method} refused: it came from another environment's page (${source}); port URLs of different environments may not change each other's state`;
    },

    onSessionEnd: (id, cb) => sessions.onEnd(id, cb),
  };
}

/** `host[:port]` of an origin (`http://a.localhost:8080`), or undefined if it is not one. */
function originHost(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    return u.host || undefined;
  } catch {
    return undefined;
  }
}

/** The origin of a Referer URL; "null" when it cannot be read, so it is treated as opaque. */
function originOf(referer: string): string {
  try {
    const u = new URL(referer);
    return u.origin === "null" ? "null" : u.origin;
  } catch {
    return "null";
  }
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>` +
  `<body style="font-family:sans-serif;max-width:40em;margin:3em auto"><h1>${esc(title)}</h1>${body}</body></html>`;
