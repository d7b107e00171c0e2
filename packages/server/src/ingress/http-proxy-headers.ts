// Header hygiene at the port proxy, both ways.
//
// Towards the app: Warren's own credentials never reach it (its session cookie, a Warren bearer
// token, X-Warren-Token), so an app cannot replay them against Warren; any other Authorization
// (apps use Basic auth) passes. Hop-by-hop headers are the proxy's business, not the app's, and
// X-Forwarded-* / Forwarded are set from what the proxy saw, replacing whatever the client sent.
//
// Towards the browser: a Set-Cookie whose Domain is wider than the port's own host would reach
// every port URL under the base domain (other people's apps), and one naming Warren's session
// cookie would overwrite the visitor's session: both are dropped.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** Connection-level headers (RFC 9110 7.6.1), plus the proxy ones that are never end-to-end. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const FORWARDING = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  "x-real-ip",
]);

/** Warren's port-session cookies (ingress/port-sessions.ts), with or without the `__Host-` prefix. */
export function isWarrenCookie(name: string): boolean {
  const n = name.trim();
  return n.startsWith("warren_port") || n.startsWith("__Host-warren_port");
}

const WARREN_BEARER = /^\s*bearer\s+wrn_/i;

/** The Cookie header without Warren's cookies; undefined when nothing is left. */
export function stripWarrenCookies(cookie: string): string | undefined {
  const kept = cookie
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && !isWarrenCookie(p.split("=", 1)[0] ?? ""));
  return kept.length > 0 ? kept.join("; ") : undefined;
}

export interface ForwardedFacts {
  /** The client's address as the proxy's socket saw it. */
  clientIp: string;
  scheme: "http" | "https";
  /** The Host header the client sent (already validated). */
  host: string;
}

/**
 * The headers to send upstream. `upgrade` keeps Connection/Upgrade for a WebSocket handshake (the
 * only hop-by-hop exchange that must reach the app).
 */
export function upstreamRequestHeaders(
  raw: string[],
  facts: ForwardedFacts,
  upgrade?: string,
): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  const connectionListed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === "connection") {
      for (const t of (raw[i + 1] ?? "").split(",")) connectionListed.add(t.trim().toLowerCase());
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionListed.has(lower) || FORWARDING.has(lower)) continue;
    if (lower === "x-warren-token") continue;
    if (lower === "authorization" && WARREN_BEARER.test(value)) continue;
    if (lower === "content-length") continue; // set from the parsed framing below, once
    let v: string | undefined = value;
    if (lower === "cookie") v = stripWarrenCookies(value);
    if (v === undefined) continue;
    const prev = out[lower];
    // Cookie fields join with "; " (RFC 9113 8.2.3 style); others the HTTP way, as a list.
    if (prev === undefined) out[lower] = v;
    else if (lower === "cookie") out[lower] = `${prev}; ${v}`;
    else out[lower] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  out["x-forwarded-for"] = facts.clientIp;
  out["x-forwarded-proto"] = facts.scheme;
  out["x-forwarded-host"] = facts.host;
  if (upgrade !== undefined) {
    out["connection"] = "Upgrade";
    out["upgrade"] = upgrade;
  }
  return out;
}

/** Methods node's client sends without a body unless told otherwise. */
const BODILESS_BY_DEFAULT = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/**
 * The request's body framing as the proxy parsed it, re-stated for the upstream request: its
 * Content-Length, or none for a chunked body (node's client chunks it again), or an explicit 0 for
 * a body-less POST that node's client would otherwise send chunked.
 */
export function bodyFraming(method: string, headers: IncomingHttpHeaders): { "content-length"?: string } {
  if (headers["transfer-encoding"] !== undefined) return {};
  const cl = headers["content-length"];
  if (cl !== undefined) return { "content-length": cl };
  return BODILESS_BY_DEFAULT.has(method) ? {} : { "content-length": "0" };
}

/** The cookie's Domain attribute (lowercase, no leading dot), if it has one. */
function cookieDomain(setCookie: string): string | undefined {
  let domain: string | undefined;
  for (const attr of setCookie.split(";").slice(1)) {
    const eq = attr.indexOf("=");
    const k = (eq < 0 ? attr : attr.slice(0, eq)).trim().toLowerCase();
    // The last Domain attribute wins (RFC 6265 5.3 step 3 reads them in order).
    if (k === "domain")
      domain = attr
        .slice(eq + 1)
        .trim()
        .toLowerCase()
        .replace(/^\./, "");
  }
  return domain;
}

/**
 * Whether an app's Set-Cookie may reach the browser: host-only cookies, or Domain exactly the port
 * host, and never one named like Warren's session cookie.
 */
export function setCookieAllowed(setCookie: string, hostname: string): boolean {
  const name = setCookie.split("=", 1)[0] ?? "";
  if (isWarrenCookie(name)) return false;
  const domain = cookieDomain(setCookie);
  return domain === undefined || domain === "" || domain === hostname;
}

/**
 * The app's response headers for the browser, as [name, value] pairs in the app's order (so
 * repeated fields such as Set-Cookie stay separate): hop-by-hop removed, wide cookies dropped.
 */
export function downstreamResponseHeaders(raw: string[], hostname: string): [string, string][] {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === "connection") {
      for (const t of (raw[i + 1] ?? "").split(",")) listed.add(t.trim().toLowerCase());
    }
  }
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (lower === "set-cookie" && !setCookieAllowed(value, hostname)) continue;
    out.push([name, value]);
  }
  return out;
}
