// Sign-in codes and sessions of the dashboard (the control-plane host of the ingress listener);
// http/dashboard-auth.ts authenticates API requests with them. Modelled on port-sessions.ts:
//
// - A code is what a one-time link (`warren dashboard`) or the end of an OIDC sign-in carries:
//   256 random bits, valid for at most 60 s, bound to the dashboard host it was made for, taken
//   once whatever the outcome. It names a sign-in that already happened; nothing else can be done
//   with it.
// - A session is a random id in a host-only cookie plus a CSRF token the page reads from
//   GET /api/v1/auth/dashboard/session. Both are needed for every API call (dashboard-auth.ts).
//   A session is bound to its host, the user and organisation, and the credential that signed in
//   (the pasted token's id, the link creator's token, or none for OIDC and root on the host, which
//   live on the membership alone).
//
// Sessions are live sessions (services/live-sessions.ts, kind "dashboard"): revoking the token
// that signed in or removing the member ends them at once, and an ended session's watchers (its
// SSE watches and exec WebSockets) are told. Like port sessions they live in this process's
// memory: a restart signs everyone out, and only digests of codes and ids are kept as keys.
import type { Clock } from "../clock.ts";
import type { UserActor } from "../services/actor.ts";
import type { LiveSessions, SessionEnd, SessionHandle } from "../services/live-sessions.ts";
import { CODE_TTL_MS, SESSION_TTL_MS } from "./port-sessions.ts";
import { createSigninCodes, digest, newSecret, normalizeHost } from "./signin-codes.ts";

/** At most this many sessions in all, and per user; the oldest go first. */
const MAX_SESSIONS = 10_000;
const MAX_SESSIONS_PER_USER = 20;

/** Whom a session or code signs in, and on which dashboard host. */
export interface DashboardGrant {
  /** The dashboard's host name (`warren.localhost`; a `:port` is ignored). */
  host: string;
  userId: string;
  orgId: string;
  role: UserActor["role"];
  /** The token that signed in (pasted, or the link creator's); absent for OIDC and local root. */
  tokenId?: string | undefined;
  /** How the user signed in: a pasted token, a `warren dashboard` link, or OIDC. */
  via: "token" | "link" | "oidc";
}

export interface DashboardSession extends DashboardGrant {
  /** The cookie's value; only its digest is a key here. */
  id: string;
  /** What the page sends as X-Warren-CSRF (or a `csrf.` WebSocket subprotocol). */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export type DashboardExchange = { ok: true; session: DashboardSession } | { ok: false; reason: string };

export interface DashboardSessions {
  /** A session at once (a token pasted into the sign-in page, already checked). */
  open(grant: DashboardGrant): DashboardSession;
  /** A new single-use code for `grant`, valid for 60 s at most. */
  issueCode(grant: DashboardGrant): { code: string; expiresAt: number };
  /** Takes the code (once, whatever the outcome) and opens a session if it is live and for `host`. */
  exchange(code: string, host: string): DashboardExchange;
  /** The live session with this cookie value on this host, or undefined. */
  lookup(id: string, host: string): DashboardSession | undefined;
  /** Sign-out: ends the session (idempotent). */
  end(id: string): boolean;
  /** Calls `cb` once when the session ends (revoked, signed out, expired); returns an unsubscribe. */
  onEnd(id: string, cb: (why: string) => void): () => void;
  size(): number;
}

/** The user a session acts as: never "local-socket", so nothing grants it the host's root. */
export function sessionActor(s: DashboardGrant): UserActor {
  return {
    kind: "user",
    userId: s.userId,
    orgId: s.orgId,
    role: s.role,
    via: "token",
    ...(s.tokenId ? { tokenId: s.tokenId } : {}),
  };
}

interface Entry {
  session: DashboardSession;
  live: SessionHandle;
  watchers: Set<(why: string) => void>;
}

export function createDashboardSessions(o: {
  clock: Clock;
  live: LiveSessions;
  codeTtlMs?: number;
  sessionTtlMs?: number;
}): DashboardSessions {
  const { clock } = o;
  const codeTtl = Math.min(o.codeTtlMs ?? CODE_TTL_MS, CODE_TTL_MS);
  const sessionTtl = o.sessionTtlMs ?? SESSION_TTL_MS;
  const codes = createSigninCodes<DashboardGrant>({ clock, ttlMs: codeTtl });
  const sessions = new Map<string, Entry>();

  const finish = (key: string, why: string): boolean => {
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

  /** Room for one more: the user's oldest beyond their cap, then the oldest of all beyond the total. */
  const makeRoom = (userId: string) => {
    const mine = [...sessions].filter(([, e]) => e.session.userId === userId);
    for (const [k] of mine.slice(0, Math.max(0, mine.length - MAX_SESSIONS_PER_USER + 1))) {
      finish(k, "signed out: too many dashboard sessions for this user; the oldest ended");
    }
    for (const k of sessions.keys()) {
      if (sessions.size < MAX_SESSIONS) break;
      finish(k, "signed out: the server holds too many dashboard sessions");
    }
  };

  const liveEntry = (id: string): [string, Entry] | undefined => {
    const key = digest(id);
    const e = sessions.get(key);
    if (!e) return undefined;
    if (e.session.expiresAt <= clock.now()) {
      finish(key, "the dashboard session expired; sign in again");
      return undefined;
    }
    return [key, e];
  };

  const open = (grant: DashboardGrant): DashboardSession => {
    makeRoom(grant.userId);
    const now = clock.now();
    const session: DashboardSession = {
      ...grant,
      host: normalizeHost(grant.host),
      id: newSecret(),
      csrf: newSecret(),
      createdAt: now,
      expiresAt: now + sessionTtl,
    };
    const key = digest(session.id);
    const entry: Entry = { session, watchers: new Set(), live: { ended: undefined, close() {} } };
    sessions.set(key, entry);
    entry.live = o.live.open("dashboard", sessionActor(session), (why: SessionEnd) =>
      finish(key, why.message),
    );
    if (entry.live.ended) sessions.delete(key);
    return session;
  };

  return {
    open,

    issueCode: (grant) => codes.issue(grant),

    exchange(code, host) {
      const c = codes.take(code, host, "another dashboard address");
      if (!c.ok) return c;
      return { ok: true, session: open(c.grant) };
    },

    lookup(id, host) {
      const found = liveEntry(id);
      const s = found?.[1].session;
      return s && s.host === normalizeHost(host) ? s : undefined;
    },

    end: (id) => finish(digest(id), "signed out"),

    onEnd(id, cb) {
      const found = liveEntry(id);
      if (!found) {
        cb("the dashboard session has ended");
        return () => {};
      }
      const watchers = found[1].watchers;
      watchers.add(cb);
      return () => watchers.delete(cb);
    },

    size: () => sessions.size,
  };
}
