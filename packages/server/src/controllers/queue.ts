// A keyed work queue in the shape of client-go's workqueue: a request is only a key, keys are
// de-duplicated while waiting, one key never runs twice at once (a key added while it runs is
// run again afterwards), and failures retry with capped exponential backoff.
import type { Clock, TimerHandle } from "../clock.ts";

export interface WorkQueueOptions<K> {
  handler: (key: K) => Promise<void>;
  clock: Clock;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called with each failure before its retry is scheduled (for logging). */
  onError?: (key: K, err: unknown, attempt: number, retryInMs: number) => void;
  /** Told the waiting keys after every change and each pass's duration (metrics/control-plane.ts). */
  observer?: QueueObserver;
}

export interface QueueObserver {
  depth(waiting: number): void;
  ran(seconds: number, ok: boolean): void;
}

export interface WorkQueue<K> {
  /**
   * Queues `key`. A key waiting out a backoff stays there unless `now` is set, so periodic
   * resyncs do not defeat the backoff but a user's request acts at once.
   */
  add(key: K, opts?: { now?: boolean }): void;
  /** Consecutive failures of `key` so far. */
  failures(key: K): number;
  /** Resolves when nothing is queued or running (keys waiting out a backoff do not count). */
  idle(): Promise<void>;
  /** Stops accepting keys, drops pending retries and waits for running handlers. */
  close(): Promise<void>;
}

export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export function createWorkQueue<K>(opts: WorkQueueOptions<K>): WorkQueue<K> {
  const concurrency = opts.concurrency ?? 4;
  const baseMs = opts.baseDelayMs ?? 500;
  const maxMs = opts.maxDelayMs ?? 30_000;
  const { clock } = opts;

  const ready: K[] = [];
  const queued = new Set<K>();
  const running = new Set<K>();
  const dirty = new Set<K>(); // added while running: run again when done
  const retryTimers = new Map<K, TimerHandle>();
  const failureCount = new Map<K, number>();
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  function enqueue(key: K): void {
    if (queued.has(key)) return;
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    queued.add(key);
    ready.push(key);
    pump();
  }

  function pump(): void {
    while (!closed && running.size < concurrency) {
      const idx = ready.findIndex((k) => !running.has(k));
      if (idx < 0) break;
      const [key] = ready.splice(idx, 1) as [K];
      queued.delete(key);
      running.add(key);
      void runOne(key);
    }
    opts.observer?.depth(ready.length);
    notifyIfIdle();
  }

  async function runOne(key: K): Promise<void> {
    const started = performance.now();
    try {
      await opts.handler(key);
      failureCount.delete(key);
      opts.observer?.ran((performance.now() - started) / 1000, true);
    } catch (err) {
      opts.observer?.ran((performance.now() - started) / 1000, false);
      const n = (failureCount.get(key) ?? 0) + 1;
      failureCount.set(key, n);
      const delay = backoffDelay(n, baseMs, maxMs);
      opts.onError?.(key, err, n, delay);
      if (!closed) scheduleRetry(key, delay);
    } finally {
      running.delete(key);
      if (dirty.delete(key) && !closed) enqueue(key);
      pump();
    }
  }

  function scheduleRetry(key: K, delay: number): void {
    const existing = retryTimers.get(key);
    if (existing) clock.clearTimeout(existing);
    retryTimers.set(
      key,
      clock.setTimeout(() => {
        retryTimers.delete(key);
        if (!closed) enqueue(key);
      }, delay),
    );
  }

  function notifyIfIdle(): void {
    if (ready.length > 0 || running.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  return {
    add(key, addOpts) {
      if (closed) return;
      const timer = retryTimers.get(key);
      if (timer) {
        if (!addOpts?.now) return;
        clock.clearTimeout(timer);
        retryTimers.delete(key);
      }
      enqueue(key);
    },
    failures: (key) => failureCount.get(key) ?? 0,
    idle() {
      if (ready.length === 0 && running.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      for (const t of retryTimers.values()) clock.clearTimeout(t);
      retryTimers.clear();
      ready.length = 0;
      queued.clear();
      dirty.clear();
      if (running.size > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
