// Live sessions and the credentials that authorised them. A token is checked when a connection
// opens; a session that outlives that check (a runner connection, an exec or shell, a log follow,
// a watch, and later SSH sessions and proxy cookies) registers here with the actor that opened it
// and a function that ends it. When the credential stops being valid the session is ended with a
// reason the client can show:
// - its token is revoked (services/identity.ts calls revoke() with every id it revoked, lineage
//   included), on this replica at once and on the others over the change bus (receive());
// - its token expires: a timer per session, armed from the token row read at open;
// - its user leaves the organisation (revoke() with the member).
// A periodic re-read of every session's credential (and one after the change bus reconnects)
// catches a revocation whose notification was lost.
//
// Use: `const s = sessions.open("exec", actor, (why) => { ...send why, close... })` once the
// session is set up, and `s.close()` when it ends on its own. `end` runs at most once, never after
// close(), and synchronously inside revoke(): a session must stop sending data before it returns.
import { SESSION_CLOSE, type SessionCloseCode } from "@warren/protocol";
import type { Clock, TimerHandle } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Actor } from "./actor.ts";

/** What a live session is; later surfaces add their own names. */
export type SessionKind =
  | "runner"
  | "exec"
  | "port-forward"
  | "logs"
  | "watch"
  | "ssh"
  | "proxy"
  | "dashboard";

/** The credential a session lives on: a token, and for users their membership. */
export interface SessionCredential {
  orgId: string;
  /** Absent for root on the local socket, which has no token. */
  tokenId?: string;
  /** Absent for runners, which act for no user. */
  userId?: string;
}

export interface SessionEnd {
  cause: "revoked" | "expired" | "member-removed" | "unverifiable";
  /** The error code a client sees (protocol errors.ts). */
  code: "UNAUTHENTICATED" | "FORBIDDEN";
  /** Clients read it (`warren runner` stops hammering on 4401): protocol session-close.ts. */
  closeCode: SessionCloseCode;
  /** A WebSocket close reason (at most 123 bytes). */
  closeReason: string;
  /** The whole story, for an error frame or event. */
  message: string;
}

/** Credentials that stopped being valid: tokens revoked, members removed from organisations. */
export interface Revocation {
  tokenIds?: readonly string[];
  members?: readonly { orgId: string; userId: string }[];
}

/** What the store says about a credential now (services/credential-check.ts). */
export type CredentialVerdict = { ok: true; expiresAt?: number } | { ok: false; end: SessionEnd };
export type CredentialCheck = (creds: SessionCredential[]) => Promise<CredentialVerdict[]>;

export interface SessionHandle {
  /** Why the session was ended, once it was. */
  readonly ended: SessionEnd | undefined;
  /** The session ended on its own: forget it (idempotent). */
  close(): void;
}

export interface LiveSessions {
  /** Registers a session opened by `actor` (the system's and local root's are not revocable: not kept). */
  open(kind: SessionKind, actor: Actor, end: (why: SessionEnd) => void): SessionHandle;
  /** Ends this replica's sessions of the revoked credentials and tells onRevoke listeners (other replicas). */
  revoke(r: Revocation): number;
  /** A revocation another replica made: ends this replica's sessions, passes nothing on. */
  receive(r: Revocation): number;
  onRevoke(cb: (r: Revocation) => void): void;
  /** Re-reads every session's credential and ends those no longer valid; resolves to how many ended. */
  recheck(): Promise<number>;
  /** The sessions now open, for tests and diagnostics. */
  list(): { kind: SessionKind; credential: SessionCredential }[];
  /** Stops the timers; sessions are left to the shutdown that ends their connections. */
  close(): void;
}

export const revokedEnd = (tokenId: string): SessionEnd => ({
  cause: "revoked",
  code: "UNAUTHENTICATED",
  closeCode: SESSION_CLOSE.unauthenticated,
  closeReason: `token ${tokenId} was revoked`,
  message: `token ${tokenId} was revoked; this session is closed (create a new token with \`warren token create\` or sign in again)`,
});
export const expiredEnd = (tokenId: string, at: number): SessionEnd => ({
  cause: "expired",
  code: "UNAUTHENTICATED",
  closeCode: SESSION_CLOSE.unauthenticated,
  closeReason: `token ${tokenId} expired`,
  message: `token ${tokenId} expired at ${new Date(at).toISOString()}; this session is closed (create a new token or sign in again)`,
});
export const memberRemovedEnd = (orgId: string): SessionEnd => ({
  cause: "member-removed",
  code: "FORBIDDEN",
  closeCode: SESSION_CLOSE.forbidden,
  closeReason: "no longer a member of the organisation",
  message: `you are no longer a member of organisation ${orgId}; this session is closed`,
});

/** setTimeout's longest delay; a 30-day expiry is armed in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** The safety net behind the change bus: every session's credential is re-read this often. */
export const RECHECK_MS = 30_000;

interface Entry {
  kind: SessionKind;
  credential: SessionCredential;
  end: (why: SessionEnd) => void;
  ended?: SessionEnd;
  closed: boolean;
  timer?: TimerHandle;
}

const memberKey = (orgId: string, userId: string) => `${orgId}\u0000${userId}`;

export function createLiveSessions(o: {
  clock: Clock;
  logger: Logger;
  /** Reads credentials from the store; without it sessions end only by revoke()/receive(). */
  check?: CredentialCheck;
  /** Period of the safety-net re-read; default RECHECK_MS, 0 turns it off. */
  recheckMs?: number;
}): LiveSessions {
  const { clock, logger } = o;
  const all = new Set<Entry>();
  const byToken = new Map<string, Set<Entry>>();
  const byMember = new Map<string, Set<Entry>>();
  const listeners: ((r: Revocation) => void)[] = [];
  let closed = false;

  const index = (map: Map<string, Set<Entry>>, key: string, e: Entry) => {
    const set = map.get(key) ?? new Set();
    set.add(e);
    map.set(key, set);
  };
  const unindex = (map: Map<string, Set<Entry>>, key: string, e: Entry) => {
    const set = map.get(key);
    set?.delete(e);
    if (set?.size === 0) map.delete(key);
  };
  const forget = (e: Entry) => {
    if (!all.delete(e)) return;
    if (e.timer) clock.clearTimeout(e.timer);
    const c = e.credential;
    if (c.tokenId) unindex(byToken, c.tokenId, e);
    if (c.userId) unindex(byMember, memberKey(c.orgId, c.userId), e);
  };
  const finish = (e: Entry, why: SessionEnd) => {
    if (e.closed || e.ended) return false;
    e.ended = why;
    forget(e);
    try {
      e.end(why);
    } catch (err) {
      logger.error({ err, kind: e.kind }, "ending a live session failed");
    }
    logger.info(
      { kind: e.kind, ...e.credential, cause: why.cause },
      "live session ended: its credential is no longer valid",
    );
    return true;
  };
  const armExpiry = (e: Entry, at: number) => {
    if (e.closed || e.ended || !e.credential.tokenId) return;
    if (e.timer) clock.clearTimeout(e.timer);
    const delay = at - clock.now();
    if (delay <= 0) {
      finish(e, expiredEnd(e.credential.tokenId, at));
      return;
    }
    e.timer = clock.setTimeout(() => armExpiry(e, at), Math.min(delay, MAX_DELAY_MS));
    unref(e.timer);
  };
  const apply = (e: Entry, v: CredentialVerdict | undefined) => {
    if (!v) return false;
    if (!v.ok) return finish(e, v.end);
    if (v.expiresAt !== undefined) armExpiry(e, v.expiresAt);
    return false;
  };

  const endLocal = (r: Revocation): number => {
    let n = 0;
    // Members first: removing one also revokes their tokens, and "no longer a member" is the reason.
    for (const m of r.members ?? []) {
      for (const e of [...(byMember.get(memberKey(m.orgId, m.userId)) ?? [])]) {
        if (finish(e, memberRemovedEnd(m.orgId))) n++;
      }
    }
    for (const id of r.tokenIds ?? []) {
      for (const e of [...(byToken.get(id) ?? [])]) if (finish(e, revokedEnd(id))) n++;
    }
    return n;
  };

  let rechecking: Promise<number> | undefined;
  const recheck = (): Promise<number> => {
    if (!o.check || all.size === 0) return Promise.resolve(0);
    const check = o.check;
    rechecking ??= (async () => {
      const entries = [...all];
      const verdicts = await check(entries.map((e) => e.credential));
      let n = 0;
      entries.forEach((e, i) => {
        if (apply(e, verdicts[i])) n++;
      });
      return n;
    })().finally(() => {
      rechecking = undefined;
    });
    return rechecking;
  };

  let sweepTimer: TimerHandle | undefined;
  const period = o.recheckMs ?? RECHECK_MS;
  const scheduleSweep = () => {
    if (closed || !o.check || period <= 0) return;
    sweepTimer = clock.setTimeout(() => {
      recheck()
        .catch((err: unknown) =>
          logger.warn({ err }, "re-reading live sessions' credentials failed; retried"),
        )
        .finally(scheduleSweep);
    }, period);
    unref(sweepTimer);
  };
  scheduleSweep();

  return {
    open(kind, actor, end) {
      // Neither the system nor root on the local socket (root on the host) holds a credential
      // that can be revoked: there is nothing to keep.
      if (actor.kind === "system" || (actor.kind === "user" && actor.via === "local-socket")) {
        return { ended: undefined, close() {} };
      }
      const credential: SessionCredential = { orgId: actor.orgId };
      if (actor.tokenId) credential.tokenId = actor.tokenId;
      if (actor.kind === "user") credential.userId = actor.userId;
      const e: Entry = { kind, credential, end, closed: false };
      all.add(e);
      if (credential.tokenId) index(byToken, credential.tokenId, e);
      if (credential.userId) index(byMember, memberKey(credential.orgId, credential.userId), e);
      // The token was checked when the request came in; a revocation committed between that check
      // and this registration sent its signal before the session could hear it. Reading the
      // credential again now closes that gap and gives the expiry to arm.
      o.check?.([credential]).then(
        ([v]) => apply(e, v),
        (err: unknown) => {
          logger.warn({ err, kind }, "cannot check a new live session's credential; it is closed");
          finish(e, {
            cause: "unverifiable",
            code: "UNAUTHENTICATED",
            closeCode: SESSION_CLOSE.unauthenticated,
            closeReason: "credential could not be checked",
            message: "the server could not check this session's credential; reconnect",
          });
        },
      );
      return {
        get ended() {
          return e.ended;
        },
        close() {
          e.closed = true;
          forget(e);
        },
      };
    },
    revoke(r) {
      const n = endLocal(r);
      for (const cb of listeners) {
        try {
          cb(r);
        } catch (err) {
          logger.error({ err }, "passing a revocation on failed");
        }
      }
      return n;
    },
    receive: endLocal,
    onRevoke: (cb) => listeners.push(cb),
    recheck,
    list: () => [...all].map((e) => ({ kind: e.kind, credential: { ...e.credential } })),
    close() {
      closed = true;
      if (sweepTimer) clock.clearTimeout(sweepTimer);
      for (const e of all) if (e.timer) clock.clearTimeout(e.timer);
    },
  };
}

/** Timers of the system clock must not keep a stopping process alive; a test clock's have no unref. */
function unref(h: TimerHandle): void {
  (h as { unref?: () => void }).unref?.();
}
