// The live list's details beside the watch: the runner's view (the IP) counts only while the
// watch says it runs, and an idle read only for the row version it was read at, so a poll that
// raced a stop cannot bring back the deadline the stop cleared.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Environment } from "../src/api.ts";
import { type EnvObserved, type IdleRead, mergeDetails } from "../src/env-details.ts";
import { formatIdleStop } from "../src/format.ts";

const env = (state: string, updatedAt: string, extra: Partial<Environment> = {}) =>
  ({ id: "e1", name: "web", state, updatedAt, idle: { timeoutSeconds: 1800 }, ...extra }) as Environment;
const observed = { id: "e1", state: "running", ip: "10.201.0.2" } as EnvObserved;
const idle = (updatedAt: string): IdleRead => ({
  updatedAt,
  idle: {
    timeoutSeconds: 1800,
    stopDeadline: "2030-01-01T00:30:00.000Z",
    lastActivity: { kind: "terminal", at: "2030-01-01T00:00:00.000Z", source: "user:u1" },
  },
});

test("the runner's view fills in a running environment's IP, never a stopped one's", () => {
  assert.equal(mergeDetails(env("running", "t1"), observed, undefined).observed?.ip, "10.201.0.2");
  assert.equal(mergeDetails(env("stopped", "t1"), observed, undefined).observed, undefined);
  assert.equal(mergeDetails(env("creating", "t1"), observed, undefined).observed, undefined);
  // What the watch itself says wins.
  const own = { ...observed, ip: "10.201.0.9" };
  assert.equal(
    mergeDetails(env("running", "t1", { observed: own }), observed, undefined).observed?.ip,
    "10.201.0.9",
  );
  const bare = env("running", "t1");
  assert.equal(mergeDetails(bare, undefined, undefined), bare, "nothing fetched: the watch's object as is");
});

test("idle reads apply only to the row version they were read at", () => {
  const merged = mergeDetails(env("running", "t1"), undefined, idle("t1"));
  assert.equal(merged.idle?.stopDeadline, "2030-01-01T00:30:00.000Z");
  assert.equal(merged.idle?.lastActivity?.kind, "terminal");
  // The watch moved on (stopped, deadline cleared) after the list was read: the old read is ignored.
  const stopped = env("stopped", "t2");
  assert.equal(mergeDetails(stopped, undefined, idle("t1")).idle?.stopDeadline, undefined);
});

test("idle stop reads as a time, never, or not set yet", () => {
  const now = Date.parse("2030-01-01T00:00:00.000Z");
  assert.equal(formatIdleStop(idle("t").idle, now), "in 30 min");
  assert.equal(formatIdleStop({ timeoutSeconds: null }, now), "never");
  assert.equal(formatIdleStop({ timeoutSeconds: 1800 }, now), "–");
  assert.equal(formatIdleStop(undefined, now), "–");
});
