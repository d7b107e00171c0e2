// The environment watch: turns the payload-free ChangeFeed into a durable, ordered change log
// (env_changes) that SSE watches read and resume from.
//
// Why a recorder that diffs instead of writing a change at every mutation: every writer (the
// service, the controller, resource ops) already signals the ChangeFeed, and level-triggered
// diffing cannot miss a writer added later. Consecutive writes between two passes collapse into
// one MODIFIED, which is what Kubernetes watches promise too (the latest state, not every step).
// Its baseline is the log's latest entry per environment, so a restarted daemon records what
// changed while it was down. With many replicas sharing the log (PostgreSQL), each records only
// its own changes (services/watch-shared.ts) and hears of the others' appends over the change
// bus (heard()), reading their rows only when a snapshot needs its baseline.
import { type Environment, WarrenError, type WatchEvent } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import {
  appendEnvChanges,
  compactEnvChanges,
  compactedEnvChange,
  type EnvChangeType,
  latestEnvChanges,
  listEnvChangesAfter,
  newestEnvChange,
} from "../store/queries/env-changes.ts";
import { getEnvById, listEnvs, toEnvironment } from "../store/queries/envs.ts";
import { type Actor, requireActor } from "./actor.ts";
import type { ChangeFeed } from "./changes.ts";
import { canSeeOwned } from "./scope.ts";
import { recordUnderLock } from "./watch-shared.ts";

export interface EnvWatchOptions {
  db: Db;
  changes: ChangeFeed;
  clock: Clock;
  logger: Logger;
  /** Changes kept beyond each environment's latest; older ones are compacted (default 10000). */
  retain?: number;
  /** Other replicas append to the same log (PostgreSQL): check it before appending. */
  shared?: boolean;
}

/** Who owns the environment (migration 005's columns), for per-caller filtering. */
export interface EnvOwnership {
  org_id: string | null;
  owner_id: string | null;
}

/** A change with the ownership the HTTP edge filters on; the ownership is not sent. */
export interface OwnedWatchEvent extends WatchEvent {
  ownership?: EnvOwnership;
}

interface Known extends EnvOwnership {
  json: string;
}

export interface EnvWatchService {
  /** Records what changed since the last pass; returns the newest resource version. */
  sync(): Promise<number>;
  /**
   * The environments the actor may see and the version they reflect (the start of a list+watch).
   */
  snapshot(
    a: Actor,
  ): Promise<{ resourceVersion: number; items: { env: Environment; ownership: EnvOwnership }[] }>;
  /**
   * Changes after `rv` that the actor may see, oldest first, and `through`: the newest version
   * read, visible or not, where the next call resumes (so a resume skips invisible ones too).
   * WATCH_EXPIRED if some were compacted away.
   */
  changesAfter(a: Actor, rv: number): Promise<{ events: OwnedWatchEvent[]; through: number }>;
  /** Throws WATCH_EXPIRED unless a watch can resume from `rv` without a gap. */
  checkResumable(rv: number): Promise<void>;
  /** Resolves once a change past `rv` is recorded, or when `signal` aborts. */
  waitPast(rv: number, signal: AbortSignal): Promise<void>;
  /** Another replica appended to the shared log up to `rv` (the change bus heard it). */
  heard(rv: number): void;
  /** Starts following the ChangeFeed. */
  start(): void;
  close(): Promise<void>;
}

export function createEnvWatchService(o: EnvWatchOptions): EnvWatchService {
  const retain = o.retain ?? 10_000;
  // envId -> JSON of the environment as the log last recorded it (undefined until loaded).
  let baseline: Map<string, Known> | undefined;
  let newest = 0;
  // The version the baseline reflects: every log row up to it has been applied. Shared: it trails
  // `newest` until a snapshot reads the other replicas' rows.
  let applied = 0;
  // The highest compaction mark seen (read or written). The mark only moves up, so this bounds it
  // from below: the table is read again only when that bound says compaction may be due, not on
  // every pass (a read per pass per replica was a round trip and a transaction per change).
  let compactedAtLeast: number | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let waiters: (() => void)[] = [];
  const stop = new AbortController();
  let loop: Promise<void> | undefined;

  // Passes are serialised: two overlapping diffs would record the same change twice.
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  }

  async function load(): Promise<Map<string, Known>> {
    if (baseline) return baseline;
    const m = new Map<string, Known>();
    let last = 0;
    for (const c of await latestEnvChanges(o.db)) {
      if (c.type !== "DELETED") m.set(c.env_id, { json: c.object, org_id: c.org_id, owner_id: c.owner_id });
      last = Math.max(last, c.rv); // the newest row is always some environment's latest
    }
    newest = Math.max(newest, last);
    applied = last;
    baseline = m;
    return m;
  }

  /** Shared log: applies the rows other replicas (and this one) appended since `applied`. */
  async function catchUp(base: Map<string, Known>): Promise<void> {
    for (;;) {
      const rows = await listEnvChangesAfter(o.db, applied);
      for (const c of rows) {
        if (c.type === "DELETED") base.delete(c.env_id);
        else base.set(c.env_id, { json: c.object, org_id: c.org_id, owner_id: c.owner_id });
        applied = c.rv;
      }
      if (rows.length < 1000) break;
    }
    newest = Math.max(newest, applied);
  }

  const wakeWaiters = () => {
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  };

  async function compactIfDue(): Promise<void> {
    if (compactedAtLeast === undefined || newest - compactedAtLeast > 2 * retain) {
      compactedAtLeast = await compactedEnvChange(o.db);
      if (newest - compactedAtLeast > 2 * retain) {
        await compactEnvChanges(o.db, newest - retain);
        compactedAtLeast = newest - retain;
      }
    }
  }

  /** Shared log: records this replica's own changes, reading the rows under the log's lock. */
  const syncShared = () =>
    serial(async () => {
      const dirty = o.changes.takeDirty({ localOnly: true });
      let last: number | undefined;
      try {
        last = await recordUnderLock(o.db, dirty, isoNow(o.clock));
      } catch (err) {
        o.changes.restoreDirty(dirty);
        throw err;
      }
      if (last !== undefined) newest = Math.max(newest, last);
      // A full pass (start, reconnect) also learns how far the others got while unheard.
      else if (dirty.all) newest = Math.max(newest, await newestEnvChange(o.db));
      if (last !== undefined || dirty.all) await compactIfDue();
      wakeWaiters();
      return newest;
    });

  const syncLocal = () =>
    serial(async () => {
      const base = await load();
      const dirty = o.changes.takeDirty();
      try {
        return await record(base, dirty);
      } catch (err) {
        o.changes.restoreDirty(dirty);
        throw err;
      }
    });

  const sync = o.shared ? syncShared : syncLocal;

  async function record(
    base: Map<string, Known>,
    dirty: { all: boolean; ids: Set<string> },
  ): Promise<number> {
    // Only the named environments, unless some change named none (then the whole table).
    const rows = dirty.all
      ? await listEnvs(o.db)
      : (await Promise.all([...dirty.ids].map((id) => getEnvById(o.db, id)))).filter((r) => r !== undefined);
    const out: { envId: string; type: EnvChangeType; known: Known }[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      const owned = row as typeof row & Partial<EnvOwnership>;
      const known: Known = {
        json: JSON.stringify(toEnvironment(row)),
        org_id: owned.org_id ?? null,
        owner_id: owned.owner_id ?? null,
      };
      const prev = base.get(row.id);
      if (prev === undefined) out.push({ envId: row.id, type: "ADDED", known });
      else if (prev.json !== known.json) out.push({ envId: row.id, type: "MODIFIED", known });
    }
    const gone = dirty.all ? [...base.keys()] : [...dirty.ids];
    for (const id of gone) {
      const known = base.get(id);
      if (known && !seen.has(id)) out.push({ envId: id, type: "DELETED", known });
    }
    if (out.length === 0) return newest;
    const last = await appendEnvChanges(
      o.db,
      out.map((c) => ({
        envId: c.envId,
        type: c.type,
        object: c.known.json,
        orgId: c.known.org_id,
        ownerId: c.known.owner_id,
      })),
      isoNow(o.clock),
    );
    if (last !== undefined) newest = applied = last;
    for (const c of out) {
      if (c.type === "DELETED") base.delete(c.envId);
      else base.set(c.envId, c.known);
    }
    await compactIfDue();
    wakeWaiters();
    return newest;
  }

  async function checkResumable(rv: number): Promise<void> {
    const compacted = await compactedEnvChange(o.db);
    if (rv < compacted) {
      throw new WarrenError(
        "WATCH_EXPIRED",
        `resource version ${rv} is older than the retained history (${compacted}); list again and watch from the list's version`,
        { resourceVersion: rv, oldest: compacted },
      );
    }
  }

  return {
    sync,
    snapshot: async (a) => {
      requireActor(a, "watching environments");
      return serial(async () => {
        const base = await load();
        if (o.shared) await catchUp(base);
        const items = [...base.values()]
          .filter((k) => canSeeOwned(a, k))
          .map((k) => ({
            env: JSON.parse(k.json) as Environment,
            ownership: { org_id: k.org_id, owner_id: k.owner_id },
          }));
        items.sort(
          (a, b) => a.env.createdAt.localeCompare(b.env.createdAt) || a.env.id.localeCompare(b.env.id),
        );
        return { resourceVersion: o.shared ? applied : newest, items };
      });
    },
    checkResumable,
    async changesAfter(a, rv) {
      requireActor(a, "watching environments");
      await checkResumable(rv);
      const rows = await listEnvChangesAfter(o.db, rv);
      const events = rows
        .filter((r) => canSeeOwned(a, r))
        .map((r) => ({
          type: r.type,
          resourceVersion: r.rv,
          object: JSON.parse(r.object) as Environment,
          ownership: { org_id: r.org_id, owner_id: r.owner_id },
        }));
      return { events, through: rows.at(-1)?.rv ?? rv };
    },
    heard(rv) {
      if (rv <= newest) return;
      newest = rv;
      wakeWaiters();
    },
    waitPast(rv, signal) {
      if (newest > rv || signal.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        waiters.push(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
    start() {
      if (loop) return;
      loop = (async () => {
        const stopped = new Promise<void>((r) => stop.signal.addEventListener("abort", () => r()));
        while (!stop.signal.aborted) {
          const seen = o.changes.version;
          try {
            await sync();
          } catch (err) {
            o.logger.warn({ err }, "recording environment changes failed; retrying on the next change");
          }
          await Promise.race([o.changes.changedSince(seen), stopped]);
        }
      })();
    },
    async close() {
      stop.abort();
      await loop;
      await queue;
      const ws = waiters;
      waiters = [];
      for (const w of ws) w();
    },
  };
}
