import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, createWorkQueue } from "../src/controllers/queue.ts";
import { FakeClock, flush } from "./fake-clock.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test("backoff doubles and caps", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, 500, 30_000)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000],
  );
});

test("queued keys are de-duplicated", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const gate = deferred();
  const q = createWorkQueue<string>({
    clock,
    concurrency: 1,
    handler: async (k) => {
      seen.push(k);
      if (k === "first") await gate.promise;
    },
  });
  q.add("first");
  q.add("a");
  q.add("a");
  q.add("b");
  q.add("a");
  gate.resolve();
  await q.idle();
  assert.deepEqual(seen, ["first", "a", "b"]);
  await q.close();
});

test("the same key never runs concurrently; an add while running reruns it once after", async () => {
  const clock = new FakeClock();
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const gates = [deferred(), deferred()];
  const q = createWorkQueue<string>({
    clock,
    concurrency: 4,
    handler: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await gates[runs++]?.promise;
      active--;
    },
  });
  q.add("k");
  await flush();
  q.add("k");
  q.add("k");
  await flush();
  assert.equal(runs, 1, "second run waits for the first");
  gates[0]!.resolve();
  await flush();
  assert.equal(runs, 2);
  gates[1]!.resolve();
  await q.idle();
  assert.equal(runs, 2, "the two adds during the run collapse into one rerun");
  assert.equal(maxActive, 1);
  await q.close();
});

test("different keys run in parallel up to the concurrency", async () => {
  const clock = new FakeClock();
  let active = 0;
  let maxActive = 0;
  const gate = deferred();
  const q = createWorkQueue<number>({
    clock,
    concurrency: 2,
    handler: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await gate.promise;
      active--;
    },
  });
  for (const k of [1, 2, 3, 4]) q.add(k);
  await flush();
  assert.equal(active, 2);
  gate.resolve();
  await q.idle();
  assert.equal(maxActive, 2);
  await q.close();
});

test("failures retry with exponential backoff on the injected clock, and success resets", async () => {
  const clock = new FakeClock();
  let attempts = 0;
  const errors: number[] = [];
  const q = createWorkQueue<string>({
    clock,
    baseDelayMs: 100,
    maxDelayMs: 400,
    handler: async () => {
      attempts++;
      if (attempts <= 4) throw new Error(`boom ${attempts}`);
    },
    onError: (_k, _e, _n, retryIn) => errors.push(retryIn),
  });
  q.add("k");
  await flush();
  assert.equal(attempts, 1);
  assert.deepEqual(clock.pending(), [100]);
  await clock.advance(99);
  assert.equal(attempts, 1, "no retry before the delay");
  await clock.advance(1);
  assert.equal(attempts, 2);
  await clock.advance(200);
  assert.equal(attempts, 3);
  await clock.advance(400);
  assert.equal(attempts, 4);
  assert.equal(q.failures("k"), 4);
  await clock.advance(400);
  assert.equal(attempts, 5);
  assert.deepEqual(errors, [100, 200, 400, 400]);
  assert.equal(q.failures("k"), 0);
  assert.deepEqual(clock.pending(), []);
  await q.close();
});

test("a plain add does not cut a backoff short; add(now) does", async () => {
  const clock = new FakeClock();
  let attempts = 0;
  const q = createWorkQueue<string>({
    clock,
    baseDelayMs: 1000,
    handler: async () => {
      attempts++;
      throw new Error("always");
    },
  });
  q.add("k");
  await flush();
  q.add("k");
  await flush();
  assert.equal(attempts, 1);
  q.add("k", { now: true });
  await flush();
  assert.equal(attempts, 2);
  assert.deepEqual(clock.pending(), [2000], "backoff keeps growing");
  await q.close();
  assert.deepEqual(clock.pending(), [], "close drops pending retries");
});

test("close waits for running handlers and refuses new keys", async () => {
  const clock = new FakeClock();
  const gate = deferred();
  let finished = false;
  let runs = 0;
  const q = createWorkQueue<string>({
    clock,
    handler: async () => {
      runs++;
      await gate.promise;
      finished = true;
    },
  });
  q.add("a");
  await flush();
  const closing = q.close();
  q.add("b");
  setImmediate(() => gate.resolve());
  await closing;
  assert.equal(finished, true);
  assert.equal(runs, 1);
});
