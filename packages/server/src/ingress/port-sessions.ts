// Sign-in codes and sessions of port URLs (the proxy's cookies; port-auth.ts decides with them).
//
// - A code is what a sign-in link carries: 256 random bits, valid for at most 60 s, bound to the
//   exact port host it was made for, and taken once (a code shown on any other host is burned, not
//   left for a retry). It is not a credential by itself: it names a sign-in that already happened
//   (a token user's `warren port open`, or an OIDC login), and nothing else can be done with it.
// - A session is what the code becomes: a random id in a host-only cookie, bound to that host, the
//   environment and port, the user and organisation, and the credential that signed in (the token's
//   id, or none for an OIDC login, which lives on the membership alone).
//
// Sessions are live sessions (services/live-sessions.ts, kind "proxy"): revoking the token that
// signed in or removing the member ends them at once, here and over the change bus on the other
// replicas' registries. A port made stricter (ports.onTightened) ends those that no longer
// qualify; sign-out ends one. An ended session's watchers (the proxy's open WebSockets) are told.
//
// Both live in this process's memory: a restart signs everyone out, which costs a click, and
// nothing secret is written anywhere. With several replicas the proxy must reach the replica that
// issued the code (a port host pinned to one replica); sessions are not shared between replicas.
// Only digests of codes and session ids are kept as keys, so lookups do not compare secrets.
import type { Clock } from "../clock.ts";
import type { Actor, UserActor } from "../services/actor.ts";
import type { LiveSessions, SessionEnd, SessionHandle } from "../services/live-sessions.ts";
import { createSigninCodes, digest, newSecret, normalizeHost } from "./signin-codes.ts";

/** The same union as services/ports.ts; declared here so sessions depend on no service. */
export type PortVisibility = "private" | "org" | "public";

/** A sign-in code is good for this long at most. */
export const CODE_TTL_MS = 60_000;
/** A session ends this long after sign-in even if nothing revoked it (a token's own expiry ends it sooner). */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Whom a code signs in, and where. */
export interface PortGrant {
  /** The exact port host name (`3000--dev--acme.localhost`; a `:port` is ignored). */
  host: string;
  envId: string;
  port: number;
  /** The environment's organisation and owner: what a stricter visibility is checked against. */
  envOrgId: string;
  ownerId: string;
  userId: string;
  orgId: string;
  role: UserActor["role"];
  /** The token that signed in (`warren port open`); absent for an OIDC login. */
  tokenId?: string | undefined;
  /** How the user signed in, for logs: "token" or "oidc". */
  via: "token" | "oidc" | "local-socket";
}

export interface PortSession extends PortGrant {
  /** The cookie's value; only its digest is a key here. */
  id: string;
  createdAt: number;
  expiresAt: number;
  /** The user as the proxy acts for them (waking, activity). */
  actor: UserActor;
}

export type ExchangeResult = { ok: true; session: PortSession } | { ok: false; reason: string };

export interface PortSessions {
  /** A new single-use code for `grant`, valid for CODE_TTL_MS. */
  issueCode(grant: PortGrant): { code: string; expiresAt: number };
  /** Takes the code (once, whatever the outcome) and opens a session if it is live and for `host`. */
  exchange(code: string, host: string): ExchangeResult;
  /** The live session with this cookie value on this host, or undefined. */
  lookup(id: string, host: string): PortSession | undefined;
  /** Sign-out: ends the session (idempotent). */
  end(id: string): boolean;
  /** Ends the sessions of (envId, port) whose user the new visibility no longer admits. */
  tightened(envId: string, port: number, v: PortVisibility): number;
  /** Calls `cb` once when the session ends (revoked, signed out, tightened); returns an unsubscribe. */
  onEnd(id: string, cb: (why: string) => void): () => void;
  /** Sessions now open, for tests and diagnostics. */
  size(): number;
}

/** Whether a signed-in user may use a port of this visibility (public admits everyone). */
export function admits(
  v: PortVisibility,
  who: { userId: string; orgId: string },
  env: { envOrgId: string; ownerId: string },
): boolean {
  if (v === "public") return true;
  if (who.orgId !== env.envOrgId) return false;
  return v === "org" || who.userId === env.ownerId;
}

interface Entry {
  session: PortSession;
  live: SessionHandle;
  watchers: Set<(why: string) => void>;
}

export function createPortSessions(o: {
  clock: Clock;
  /** The registry that ends sessions when their token is revoked or their member removed. */
  live: LiveSessions;
  codeTtlMs?: number;
  sessionTtlMs?: number;
}): PortSessions {
  const { clock } = o;
  const codeTtl = Math.min(o.codeTtlMs ?? CODE_TTL_MS, CODE_TTL_MS);
  const sessionTtl = o.sessionTtlMs ?? SESSION_TTL_MS;
  const codes = createSigninCodes<PortGrant>({ clock, ttlMs: codeTtl });
  const sessions = new Map<string, Entry>();

  const finish = (key: string, why: string) => {
    const e = sessions.get(key);
    if (!e) return false;
    sessions.delete(key);
    e.live.close();
    for (const w of e.watchers) {
      try {
        w(why);
      } catch {
        // A watcher that throws must not keep the others from hearing the end.
      }
    }
    e.watchers.clear();
    return true;
  };

  const liveEntry = (id: string): [string, Entry] | undefined => {
    const key = digest(id);
    const e = sessions.get(key);
    if (!e) return undefined;
    if (e.session.expiresAt <= clock.now()) {
      finish(key, "the session expired; sign in again");
      return undefined;
    }
    return [key, e];
  };

  return {
    issueCode: (grant) => codes.issue(grant),

    exchange(code, host) {
      const c = codes.take(code, host, "another port URL");
      if (!c.ok) return c;
      const id = newSecret();
      const now = clock.now();
      const g = c.grant;
      const actor: UserActor = {
        kind: "user",
        userId: g.userId,
        orgId: g.orgId,
        role: g.role,
        // An OIDC login has no token: the live session then lives on the membership alone.
        via: g.via === "local-socket" ? "local-socket" : "token",
        ...(g.tokenId ? { tokenId: g.tokenId } : {}),
      };
      const session: PortSession = { ...g, id, createdAt: now, expiresAt: now + sessionTtl, actor };
      const sessionKey = digest(id);
      const entry: Entry = { session, watchers: new Set(), live: { ended: undefined, close() {} } };
      sessions.set(sessionKey, entry);
      entry.live = o.live.open("proxy", actor as Actor, (why: SessionEnd) => finish(sessionKey, why.message));
      // open() ends synchronously only if it is handed an already-ended credential; it re-checks
      // asynchronously, and that check's verdict ends the session through the same callback.
      if (entry.live.ended) sessions.delete(sessionKey);
      return { ok: true, session };
    },

    lookup(id, host) {
      const found = liveEntry(id);
      if (!found) return undefined;
      const s = found[1].session;
      return s.host === normalizeHost(host) ? s : undefined;
    },

    end(id) {
      return finish(digest(id), "signed out");
    },

    tightened(envId, port, v) {
      let n = 0;
      for (const [key, e] of [...sessions]) {
        const s = e.session;
        if (s.envId !== envId || s.port !== port || admits(v, s, s)) continue;
        if (finish(key, `port ${port} is now ${v}; this session no longer has access`)) n++;
      }
      return n;
    },

    onEnd(id, cb) {
      const found = liveEntry(id);
      if (!found) {
        cb("the session has ended");
        return () => {};
      }
      const watchers = found[1].watchers;
      watchers.add(cb);
      return () => watchers.delete(cb);
    },

    size: () => sessions.size,
  };
}
