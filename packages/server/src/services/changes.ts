// A process-wide "something about environments changed" signal. Waiters re-read the store when
// it fires, so a missed emit costs at most one poll interval. An emit may name the environment:
// the watch log then re-reads only the named rows instead of diffing the whole table (which made
// every create O(number of environments): bench/api measured it).
export interface ChangeFeed {
  readonly version: number;
  /** `envId` when the change is about one environment; none means "re-read everything". */
  emit(envId?: string): void;
  /**
   * A change another control-plane replica made (store/pg-change-bus.ts): wakes this process's
   * readers like emit, but is not passed on again.
   */
  receive(envId?: string): void;
  /** Called for every local emit (not for receive), e.g. to tell the other replicas. */
  onEmit(cb: (envId: string | undefined) => void): void;
  /**
   * Drains what changed since the last call: named ids, or `all` when any emit named none.
   * `localOnly` leaves out ids only other replicas named (each replica records its own changes).
   */
  takeDirty(o?: { localOnly?: boolean }): { all: boolean; ids: Set<string> };
  /** Puts back what a failed reader took, without waking anyone (the reader retries on its own). */
  restoreDirty(d: { all: boolean; ids: Set<string> }): void;
  /** Resolves once the version is past `since` (at once if it already is). */
  changedSince(since: number): Promise<void>;
  /**
   * Resolves once a change about `envId` (or one naming no environment) happened after version
   * `since`. Waiters for one environment are not woken by every other environment's changes.
   */
  changedSinceFor(envId: string, since: number): Promise<void>;
}

export function createChangeFeed(): ChangeFeed {
  let version = 0;
  let waiters: (() => void)[] = [];
  // Starts "all": the first reader has seen nothing yet.
  let all = true;
  let ids = new Set<string>();
  // Named by another replica only (receive), kept apart so a reader may leave them out.
  let remoteIds = new Set<string>();
  // The version of the last change naming each environment, and of the last naming none.
  const lastFor = new Map<string, number>();
  let lastAll = 0;
  const idWaiters = new Map<string, (() => void)[]>();
  const wake = (list: (() => void)[] | undefined) => {
    for (const w of list ?? []) w();
  };
  const listeners: ((envId: string | undefined) => void)[] = [];
  function note(envId: string | undefined, local: boolean): void {
    if (envId === undefined) all = true;
    else if (local) ids.add(envId);
    else remoteIds.add(envId);
    version++;
    if (envId === undefined) {
      lastAll = version;
      const every = [...idWaiters.values()];
      idWaiters.clear();
      for (const list of every) wake(list);
    } else {
      lastFor.set(envId, version);
      const list = idWaiters.get(envId);
      idWaiters.delete(envId);
      wake(list);
    }
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  }
  const feed: ChangeFeed = {
    get version() {
      return version;
    },
    onEmit(cb) {
      listeners.push(cb);
    },
    emit(envId) {
      note(envId, true);
      for (const cb of listeners) cb(envId);
    },
    receive(envId) {
      note(envId, false);
    },
    takeDirty(o) {
      const out = { all, ids: o?.localOnly ? ids : new Set([...ids, ...remoteIds]) };
      all = false;
      ids = new Set();
      remoteIds = new Set();
      return out;
    },
    restoreDirty(d) {
      all ||= d.all;
      for (const id of d.ids) ids.add(id);
    },
    changedSinceFor(envId, since) {
      if (lastAll > since || (lastFor.get(envId) ?? 0) > since) return Promise.resolve();
      return new Promise((resolve) => {
        const list = idWaiters.get(envId) ?? [];
        list.push(resolve);
        idWaiters.set(envId, list);
      });
    },
    changedSince(since) {
      if (version > since) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
  return feed;
}
