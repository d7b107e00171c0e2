// Environment changes between control-plane replicas that share one PostgreSQL database, over
// LISTEN/NOTIFY. Each replica already re-reads the store when its own ChangeFeed fires; this makes
// a change on replica A fire the feed on B as well, so B's waits settle, B's watch log and SSE
// readers move on, and the replica holding the environment's runner reconciles it at once rather
// than at its next resync. A notification carries only ids, never state (level-triggered).
//
// Payload: "<replica>|<id>,<id>,..." or "<replica>|*" (re-read everything). PostgreSQL caps a
// payload at 8000 bytes, so ids go in chunks; emits within one tick share one NOTIFY.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Logger } from "../logger.ts";

export const CHANGE_CHANNEL = "warren_env_changes";
const MAX_IDS_PER_NOTIFY = 400; // 13 bytes each: well under 8000
const RECONNECT_MS = 1000;

export interface PgChangeBus {
  readonly replicaId: string;
  /** Tells the other replicas; `undefined` means "re-read everything". */
  publish(envId: string | undefined): void;
  close(): Promise<void>;
}

export function createPgChangeBus(o: {
  url: string;
  logger: Logger;
  /** A change another replica made; `undefined`: re-read everything (also after a reconnect). */
  onRemote(envId: string | undefined): void;
}): PgChangeBus {
  const replicaId = randomBytes(6).toString("hex");
  let client: pg.Client | undefined;
  let closed = false;
  let pending = new Set<string>();
  let pendingAll = false;
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

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
      if (n.channel !== CHANGE_CHANNEL || !n.payload) return;
      const [from, ids] = n.payload.split("|", 2);
      if (from === replicaId || ids === undefined) return;
      if (ids === "*") o.onRemote(undefined);
      else for (const id of ids.split(",")) if (id) o.onRemote(id);
    });
    try {
      await c.connect();
      await c.query(`listen ${CHANGE_CHANNEL}`);
      client = c;
      // Whatever was notified while no connection listened is lost: re-read everything, and
      // send what this replica changed meanwhile.
      o.onRemote(undefined);
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

  const flush = async () => {
    while (!closed && (pendingAll || pending.size > 0)) {
      const c = client;
      if (!c) return; // sent after the reconnect's full re-read instead
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
      if (client && (pendingAll || pending.size > 0)) kick();
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
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await flushing;
      await client?.end().catch(() => {});
      client = undefined;
    },
  };
}
