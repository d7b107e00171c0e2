// What keeps an environment up: its last use, kept in memory as it happens and written to the
// store at most once a minute per environment, so a busy terminal costs no database write per
// keystroke. Callers record only real use: terminal and SSH channel data in either direction, and
// HTTP requests of signed-in users through the port proxy. Background processes, anonymous
// requests to public ports, open but silent connections and reads of the dashboard or
// `warren ls` are never recorded, so they never keep an environment up.
//
// Connections are tracked apart from activity: a disconnect starts a grace period (measured from
// the last disconnect, not from the last activity), and connected terminals can be told that
// their environment is about to stop.
import type { ActivityKind, EnvActivity } from "@warren/protocol";
import type { Clock, TimerHandle } from "../clock.ts";
import type { Logger } from "../logger.ts";

export type { ActivityKind } from "@warren/protocol";

export interface ActivityTracker {
  /** One use of `envId` by `source` (who: "user:ID"). Cheap: memory only, the write is batched. */
  record(envId: string, kind: ActivityKind, source: string): void;
  /**
   * A connection to `envId` opened (a terminal, an SSH login); call the returned function when it
   * closes. `notify`, when given, shows a line on that connection (the stop warning).
   */
  connected(envId: string, source: string, notify?: (message: string) => void): () => void;
}

/** The tracker's read side, for the idle controller. */
export interface ActivityState extends ActivityTracker {
  /** The latest activity seen by this process (newer than the store's by up to a minute). */
  last(envId: string): EnvActivity | undefined;
  /** When the last connection to `envId` closed (ms), if one did. */
  lastDisconnect(envId: string): number | undefined;
  /** Connections open now. */
  connections(envId: string): number;
  /** Shows `message` on every connection of `envId` that can show one; returns how many did. */
  notify(envId: string, message: string): number;
  /** Writes what is pending now (shutdown, tests). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The store write; the daemon passes services/idle-settings.ts's persistActivity. */
export type PersistActivity = (envId: string, a: EnvActivity) => Promise<void>;

export const PERSIST_INTERVAL_MS = 60_000;

interface Conn {
  source: string;
  notify: ((message: string) => void) | undefined;
}

interface Entry {
  kind: ActivityKind;
  at: number;
  source: string;
  /** When the last write started (ms); undefined: never written by this process. */
  writtenAt: number | undefined;
  /** The activity time last written, so a flush with nothing new writes nothing. */
  writtenFor: number | undefined;
  timer: TimerHandle | undefined;
  writing: Promise<void> | undefined;
}

export function createActivityTracker(o: {
  clock: Clock;
  persist: PersistActivity;
  logger?: Logger;
  intervalMs?: number;
}): ActivityState {
  const { clock } = o;
  const interval = o.intervalMs ?? PERSIST_INTERVAL_MS;
  const entries = new Map<string, Entry>();
  const conns = new Map<string, Set<Conn>>();
  const disconnects = new Map<string, number>();
  let closed = false;

  const activity = (e: Entry): EnvActivity => ({
    kind: e.kind,
    at: new Date(e.at).toISOString(),
    source: e.source,
  });

  function write(envId: string, e: Entry): Promise<void> {
    if (e.writing || e.writtenFor === e.at) return e.writing ?? Promise.resolve();
    e.writtenAt = clock.now();
    e.writtenFor = e.at;
    e.writing = o
      .persist(envId, activity(e))
      .catch((err: unknown) => o.logger?.warn({ envId, err }, "recording activity failed"))
      .finally(() => {
        e.writing = undefined;
      });
    return e.writing;
  }

  function schedule(envId: string, e: Entry): void {
    if (closed || e.timer) return;
    const due = (e.writtenAt ?? Number.NEGATIVE_INFINITY) + interval;
    const now = clock.now();
    if (due <= now && !e.writing) {
      void write(envId, e);
      return;
    }
    // A write in flight started at most now, so its interval ends `interval` from now at most.
    e.timer = clock.setTimeout(
      () => {
        e.timer = undefined;
        if (e.writing) schedule(envId, e);
        else void write(envId, e);
      },
      Math.max(0, due - now),
    );
  }

  return {
    record(envId, kind, source) {
      const now = clock.now();
      let e = entries.get(envId);
      if (!e) {
        e = {
          kind,
          at: now,
          source,
          writtenAt: undefined,
          writtenFor: undefined,
          timer: undefined,
          writing: undefined,
        };
        entries.set(envId, e);
      } else {
        e.kind = kind;
        e.at = now;
        e.source = source;
      }
      schedule(envId, e);
    },
    connected(envId, source, notify) {
      const c: Conn = { source, notify };
      const set = conns.get(envId) ?? new Set();
      set.add(c);
      conns.set(envId, set);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        set.delete(c);
        if (set.size === 0) conns.delete(envId);
        disconnects.set(envId, clock.now());
      };
    },
    last(envId) {
      const e = entries.get(envId);
      return e ? activity(e) : undefined;
    },
    lastDisconnect: (envId) => disconnects.get(envId),
    connections: (envId) => conns.get(envId)?.size ?? 0,
    notify(envId, message) {
      let n = 0;
      for (const c of conns.get(envId) ?? []) {
        if (!c.notify) continue;
        try {
          c.notify(message);
          n++;
        } catch (err) {
          o.logger?.debug({ envId, err }, "could not show the idle warning on a connection");
        }
      }
      return n;
    },
    async flush() {
      await Promise.all(
        [...entries].map(async ([envId, e]) => {
          if (e.timer) clock.clearTimeout(e.timer);
          e.timer = undefined;
          await e.writing;
          await write(envId, e);
        }),
      );
    },
    async close() {
      closed = true;
      await this.flush();
    },
  };
}

/** How a user appears as an activity's source. */
export function activitySource(a: { kind: string; userId?: string; via?: string; job?: string }): string {
  if (a.kind === "user") return a.via === "local-socket" ? "local-root" : `user:${a.userId}`;
  return a.kind === "system" ? `system:${a.job}` : a.kind;
}
