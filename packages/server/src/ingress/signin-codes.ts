// Single-use sign-in codes, shared by port URLs (port-sessions.ts) and the dashboard
// (dashboard-sessions.ts): 256 random bits, good for at most a minute, bound to the host they were
// made for, and taken once whatever the outcome (a code shown on the wrong host is burned, not left
// for a retry). Only digests are kept as keys, so lookups never compare secrets.
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";

/** At most this many unused codes are kept; the oldest go first (each expires within a minute anyway). */
const MAX_CODES = 10_000;

export const digest = (s: string) => createHash("sha256").update(s).digest("base64url");
export const newSecret = () => randomBytes(32).toString("base64url");

/**
 * Hosts compare without case and without a port: cookies are scoped to a host name, not a port,
 * so a session is too (the proxy passes the name; a Host header carries the listening port).
 */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/:[0-9]*$/, "");
}

export interface SigninCodes<G extends { host: string }> {
  issue(grant: G): { code: string; expiresAt: number };
  /** The grant a code names on `host`, once; `elsewhere` says what "another host" is to the user. */
  take(code: string, host: string, elsewhere: string): { ok: true; grant: G } | { ok: false; reason: string };
}

export function createSigninCodes<G extends { host: string }>(o: {
  clock: Clock;
  ttlMs: number;
}): SigninCodes<G> {
  const { clock, ttlMs } = o;
  const codes = new Map<string, { grant: G; expiresAt: number }>();

  const sweep = () => {
    const now = clock.now();
    for (const [k, c] of codes) if (c.expiresAt <= now) codes.delete(k);
    for (const k of codes.keys()) {
      if (codes.size < MAX_CODES) break;
      codes.delete(k); // insertion order: the oldest first
    }
  };

  return {
    issue(grant) {
      sweep();
      const code = newSecret();
      const expiresAt = clock.now() + ttlMs;
      codes.set(digest(code), { grant: { ...grant, host: normalizeHost(grant.host) }, expiresAt });
      return { code, expiresAt };
    },
    take(code, host, elsewhere) {
      const key = digest(code);
      const c = codes.get(key);
      codes.delete(key);
      if (!c) return { ok: false, reason: "this sign-in link is unknown or was already used" };
      if (c.expiresAt <= clock.now())
        return { ok: false, reason: `this sign-in link expired (links are good for ${ttlMs / 1000} s)` };
      if (c.grant.host !== normalizeHost(host))
        return { ok: false, reason: `this sign-in link was made for ${elsewhere}` };
      return { ok: true, grant: c.grant };
    },
  };
}
