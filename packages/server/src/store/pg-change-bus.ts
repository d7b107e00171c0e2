// Environment changes between control-plane replicas that share one PostgreSQL database, over
// LISTEN/NOTIFY. Each replica already re-reads the store when its own ChangeFeed fires; this makes
// a change on replica A fire the feed on B as well, so B's waits settle, B's watch log and SSE
// readers move on, and the replica holding the environment's runner reconciles it at once rather
// than at its next resync. A notification carries only ids, never state (level-triggered).
//
// Payload: "<replica>|<id>,<id>,..." or "<replica>|*" (re-read everything). PostgreSQL caps a
// payload at 8000 bytes, so ids go in chunks; emits within one tick share one NOTIFY.
//
// A second kind of message rides the same connection on its own channel: credentials revoked
// (tokens, members removed), so every replica ends the live sessions they authorised
// (services/live-sessions.ts). Payload: "<replica>|<json {tokenIds, members}>", chunked likewise,
// and sent ahead of environment changes.
//
// A third channel carries the shared watch log's newest version after each append (sent by the
// appending statement itself, store/queries/env-changes.ts), so watches on every replica move on
// without each replica recording every change itself.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Logger } from "../logger.ts";
import { WATCH_LOG_CHANNEL } from "./queries/env-changes.ts";

export const CHANGE_CHANNEL = "warren_env_changes";
export const REVOCATION_CHANNEL = "warren_revocations";
/** Room left in a revocation payload for the replica id and JSON punctuation. */
const MAX_REVOCATION_JSON = 7000;
const MAX_IDS_PER_NOTIFY = 400; // 13 bytes each: well under 8000
const RECONNECT_MS = 1000;

export interface PgChangeBus {
  readonly replicaId: string;
  /** Tells the other replicas; `undefined` means "re-read everything". */
  publish(envId: string | undefined): void;
  /** Tells the other replicas that these credentials were revoked. */
  publishRevocation(r: RevocationMessage): void;
  close(): Promise<void>;
}

/** The shape of services/live-sessions.ts's Revocation (the store does not import services). */
export interface RevocationMessage {
  tokenIds?: readonly string[];
  members?: readonly { orgId: string; userId: string }[];
}

export function createPgChangeBus(o: {
  url: string;
  logger: Logger;
  /** A change another replica made; `undefined`: re-read everything (also after a reconnect). */
  onRemote(envId: string | undefined): void;
  /**
   * Credentials another replica revoked; `undefined`: revocations may have been missed while no
   * connection listened (after a reconnect), so re-check every live session.
   */
  onRevoked?(r: RevocationMessage | undefined): void;
  /** The shared watch log grew to `rv` (any replica's append, this one's included). */
  onWatchLog?(rv: number): void;
}): PgChangeBus {
  const replicaId = randomBytes(6).toString("hex");
  let client: pg.Client | undefined;
  let closed = false;
  let pending = new Set<string>();
  let pendingAll = false;
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let revocations: string[] = [];

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({ connectionString: o.url });
    c.on("error", (err) => {
      o.logger.warn({ err }, "change bus connection lost; reconnecting");
      if (client === c) client = undefined;
      void c.end().catch(() => {});
      schedule();
    });
    c.on("notification", (n) => {
      if (n.channel === REVOCATION_CHANNEL && n.payload) return receiveRevocation(n.payload);
      if (n.channel === WATCH_LOG_CHANNEL) {
        const rv = Number(n.payload);
        if (Number.isSafeInteger(rv) && rv > 0) o.onWatchLog?.(rv);
        return;
      }
      if (n.channel !== CHANGE_CHANNEL || !n.payload) return;
      const [from, ids] = n.payload.split("|", 2);
      if (from === replicaId || ids === undefined) return;
      if (ids === "*") o.onRemote(undefined);
      else for (const id of ids.split(",")) if (id) o.onRemote(id);
    });
    try {
      await c.connect();
      await c.query(`listen ${CHANGE_CHANNEL}`);
      if (o.onRevoked) await c.query(`listen ${REVOCATION_CHANNEL}`);
      if (o.onWatchLog) await c.query(`listen ${WATCH_LOG_CHANNEL}`);
      client = c;
      // Whatever was notified while no connection listened is lost: re-read everything, and
      // send what this replica changed meanwhile.
      o.onRemote(undefined);
      o.onRevoked?.(undefined);
      kick();
    } catch (err) {
      o.logger.warn({ err }, "change bus cannot connect; retrying");
      void c.end().catch(() => {});
      schedule();
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, RECONNECT_MS);
    timer.unref();
  };

  const receiveRevocation = (payload: string) => {
    const bar = payload.indexOf("|");
    if (bar < 0 || payload.slice(0, bar) === replicaId || !o.onRevoked) return;
    const r = parseRevocation(payload.slice(bar + 1));
    if (r) o.onRevoked(r);
    else o.logger.warn({ payload: payload.slice(0, 200) }, "change bus: unreadable revocation ignored");
  };

  const flush = async () => {
    while (!closed && (pendingAll || pending.size > 0 || revocations.length > 0)) {
      const c = client;
      if (!c) return; // sent after the reconnect's full re-read instead
      // Revocations first: a session they end must not wait behind a burst of environment ids.
      const revs = revocations;
      revocations = [];
      for (const [i, p] of revs.entries()) {
        try {
          await c.query("select pg_notify($1, $2)", [REVOCATION_CHANNEL, p]);
        } catch (err) {
          // Kept for the next connection; the other replicas' periodic re-check is the backstop.
          revocations.unshift(...revs.slice(i));
          o.logger.warn({ err }, "change bus: sending a revocation failed; retried on reconnect");
          return;
        }
      }
      const all = pendingAll;
      const ids = [...pending];
      pendingAll = false;
      pending = new Set();
      const payloads = all
        ? [`${replicaId}|*`]
        : Array.from(
            { length: Math.ceil(ids.length / MAX_IDS_PER_NOTIFY) },
            (_, i) =>
              `${replicaId}|${ids.slice(i * MAX_IDS_PER_NOTIFY, (i + 1) * MAX_IDS_PER_NOTIFY).join(",")}`,
          );
      try {
        for (const p of payloads) await c.query("select pg_notify($1, $2)", [CHANGE_CHANNEL, p]);
      } catch (err) {
        // The others re-read everything when they reconnect; nothing more to do here.
        o.logger.warn({ err }, "change bus notify failed");
      }
    }
  };

  const kick = () => {
    flushing ??= new Promise<void>((r) => setImmediate(r)).then(flush).finally(() => {
      flushing = undefined;
      // Published while the last NOTIFY was in flight, after the loop looked: send it too.
      if (client && (pendingAll || pending.size > 0 || revocations.length > 0)) kick();
    });
  };

  void connect();
  return {
    replicaId,
    publish(envId) {
      if (envId === undefined) pendingAll = true;
      else pending.add(envId);
      kick();
    },
    publishRevocation(r) {
      for (const json of revocationPayloads(r)) revocations.push(`${replicaId}|${json}`);
      kick();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await flushing;
      await client?.end().catch(() => {});
      client = undefined;
    },
  };
}

/** A revocation as JSON texts that each fit one NOTIFY payload. */
export function revocationPayloads(r: RevocationMessage): string[] {
  const out: string[] = [];
  let cur: { tokenIds: string[]; members: { orgId: string; userId: string }[] } = {
    tokenIds: [],
    members: [],
  };
  let size = 0;
  const push = () => {
    if (cur.tokenIds.length || cur.members.length) out.push(JSON.stringify(cur));
    cur = { tokenIds: [], members: [] };
    size = 0;
  };
  const add = (bytes: number, put: () => void) => {
    if (size + bytes > MAX_REVOCATION_JSON) push();
    put();
    size += bytes;
  };
  for (const id of r.tokenIds ?? []) add(Buffer.byteLength(id) + 3, () => cur.tokenIds.push(id));
  for (const m of r.members ?? []) {
    add(Buffer.byteLength(m.orgId) + Buffer.byteLength(m.userId) + 24, () =>
      cur.members.push({ orgId: m.orgId, userId: m.userId }),
    );
  }
  push();
  return out;
}

/** The revocation in a payload, or undefined when it is not one (the channel is shared with nobody, but a payload is still read defensively). */
export function parseRevocation(json: string): RevocationMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const { tokenIds, members } = v as { tokenIds?: unknown; members?: unknown };
  const isStr = (x: unknown): x is string => typeof x === "string" && x.length > 0 && x.length <= 200;
  if (!Array.isArray(tokenIds) || !tokenIds.every(isStr)) return undefined;
  if (!Array.isArray(members)) return undefined;
  const ms: { orgId: string; userId: string }[] = [];
  for (const m of members) {
    const { orgId, userId } = (m ?? {}) as { orgId?: unknown; userId?: unknown };
    if (!isStr(orgId) || !isStr(userId)) return undefined;
    ms.push({ orgId, userId });
  }
  return { tokenIds, members: ms };
}
