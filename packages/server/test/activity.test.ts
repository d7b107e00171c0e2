// services/activity.ts: use is kept in memory and written at most once a minute per environment;
// connections are tracked apart, with the time of the last disconnect and a way to warn them.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EnvActivity } from "@warren/protocol";
import { createActivityTracker } from "../src/services/activity.ts";
import { FakeClock } from "./fake-clock.ts";

function world() {
  const clock = new FakeClock();
  const writes: { envId: string; a: EnvActivity }[] = [];
  const t = createActivityTracker({
    clock,
    persist: async (envId, a) => {
      writes.push({ envId, a });
    },
  });
  return { clock, writes, t };
}

test("a busy terminal writes at most once a minute per environment, and the last use is never lost", async () => {
  const { clock, writes, t } = world();
  t.record("e1", "terminal", "user:u1");
  await clock.advance(0);
  assert.equal(writes.length, 1, "the first use after a quiet minute is written at once");
  // A keystroke every 100 ms for 59 s: memory only.
  for (let i = 0; i < 590; i++) {
    await clock.advance(100);
    t.record("e1", "terminal", "user:u1");
  }
  assert.equal(writes.length, 1);
  assert.equal(t.last("e1")?.at, new Date(clock.now()).toISOString(), "memory has the latest use");
  await clock.advance(1000);
  assert.equal(writes.length, 2, "a minute after the first write, the latest use is written");
  assert.equal(writes[1]!.a.at, new Date(clock.now() - 1000).toISOString());
  // Nothing new since: no more writes, however long it stays quiet.
  await clock.advance(10 * 60_000);
  assert.equal(writes.length, 2);
  // Another environment has its own minute.
  t.record("e2", "ssh", "user:u2");
  await clock.advance(0);
  assert.deepEqual(
    writes.map((w) => w.envId),
    ["e1", "e1", "e2"],
  );
  assert.deepEqual(writes[2]!.a, { kind: "ssh", at: new Date(clock.now()).toISOString(), source: "user:u2" });
});

test("the last disconnect is what the grace counts from; disconnecting twice counts once", async () => {
  const { clock, t } = world();
  const a = t.connected("e1", "user:u1");
  const b = t.connected("e1", "user:u1");
  assert.equal(t.connections("e1"), 2);
  assert.equal(t.lastDisconnect("e1"), undefined);
  await clock.advance(60_000);
  a();
  const first = clock.now();
  await clock.advance(60_000);
  a();
  assert.equal(t.lastDisconnect("e1"), first, "a second call of the same disconnect changes nothing");
  b();
  assert.equal(t.lastDisconnect("e1"), clock.now());
  assert.equal(t.connections("e1"), 0);
  // Connecting is not use: nothing was recorded.
  assert.equal(t.last("e1"), undefined);
});

test("a warning reaches every connection of the environment that can show one", () => {
  const { t } = world();
  const seen: string[] = [];
  t.connected("e1", "user:u1", (m) => seen.push(`a:${m}`));
  t.connected("e1", "user:u1"); // a forwarded port: nothing to show it on
  const close = t.connected("e1", "user:u2", (m) => seen.push(`b:${m}`));
  t.connected("e2", "user:u3", (m) => seen.push(`other:${m}`));
  close();
  assert.equal(t.notify("e1", "stopping soon"), 1);
  assert.deepEqual(seen, ["a:stopping soon"]);
});

test("close writes what is pending", async () => {
  const { clock, writes, t } = world();
  t.record("e1", "http", "user:u1");
  await clock.advance(1000);
  t.record("e1", "http", "user:u1");
  assert.equal(writes.length, 1);
  await t.close();
  assert.equal(writes.length, 2);
  assert.equal(writes[1]!.a.at, new Date(clock.now()).toISOString());
});
