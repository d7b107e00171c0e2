// A process-wide "something about environments changed" signal. Waiters re-read the store when
// it fires, so it carries no payload and a missed emit costs at most one poll interval.
export interface ChangeFeed {
  readonly version: number;
  emit(): void;
  /** Resolves once the version is past `since` (at once if it already is). */
  changedSince(since: number): Promise<void>;
}

export function createChangeFeed(): ChangeFeed {
  let version = 0;
  let waiters: (() => void)[] = [];
  return {
    get version() {
      return version;
    },
    emit() {
      version++;
      const ws = waiters;
      waiters = [];
      for (const w of ws) w();
    },
    changedSince(since) {
      if (version > since) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
