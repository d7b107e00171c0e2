// controllers/idle/plan.ts: every case a row. Times are minutes after T0; timeouts 30 minutes
// unless a row says otherwise; grace and warning 5 minutes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deadlineOf, type IdleSnapshot, planIdle } from "../src/controllers/idle/plan.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const min = (m: number) => T0 + m * 60_000;
const snap = (over: Partial<IdleSnapshot> = {}): IdleSnapshot => ({
  id: "e1",
  name: "dev",
  timeoutSeconds: 1800,
  since: min(0),
  terminals: 0,
  storedDeadline: min(30),
  ...over,
});
const kinds = (s: IdleSnapshot, now: number) => planIdle([s], now).map((a) => a.type);

const cases: [string, Partial<IdleSnapshot>, number, string[]][] = [
  ["unused since it started: kept before the deadline", {}, 29.9, []],
  ["unused since it started: stopped at the deadline", {}, 30, ["stop"]],
  ["never: never stopped", { timeoutSeconds: null, storedDeadline: undefined }, 100_000, []],
  ["activity moves the deadline", { lastActivityAt: min(20) }, 45, []],
  ["activity's deadline passed", { lastActivityAt: min(20) }, 50, ["stop"]],
  ["the stored deadline never moves back", { timeoutSeconds: 600, storedDeadline: min(30) }, 20, []],
  ["a disconnect inside the grace keeps it", { lastDisconnectAt: min(28) }, 32, []],
  ["the grace counts from the last disconnect", { lastDisconnectAt: min(28) }, 33, ["stop"]],
  ["an old disconnect gives no grace", { lastDisconnectAt: min(10) }, 30, ["stop"]],
  ["an open but silent terminal does not keep it", { terminals: 1, warnedFor: min(30) }, 31, ["stop"]],
  ["terminals are warned 5 minutes before", { terminals: 2 }, 25, ["warn"]],
  ["not earlier than 5 minutes before", { terminals: 2 }, 24.9, []],
  ["warned once per deadline", { terminals: 1, warnedFor: min(30) }, 26, []],
  [
    "a new deadline is warned again",
    { terminals: 1, warnedFor: min(30), lastActivityAt: min(10) },
    36,
    ["warn"],
  ],
  ["no terminal, nobody to warn", { terminals: 0 }, 26, []],
  ["no stored deadline: record it", { storedDeadline: undefined }, 1, ["recordDeadline"]],
  [
    "a deadline left from an earlier run: record the new one",
    { storedDeadline: min(-5) },
    1,
    ["recordDeadline"],
  ],
  [
    "started after the stored deadline: counts from the start",
    { since: min(40), storedDeadline: min(30) },
    69,
    ["recordDeadline"],
  ],
  [
    "started after the stored deadline: stopped a timeout after the start",
    { since: min(40), storedDeadline: min(30) },
    70,
    ["stop"],
  ],
];

for (const [name, over, at, want] of cases) {
  test(name, () => assert.deepEqual(kinds(snap(over), min(at)), want));
}

test("the deadline is the latest of stored, last activity + timeout, and start + timeout", () => {
  assert.equal(deadlineOf(snap({ lastActivityAt: min(12) })), min(42));
  assert.equal(deadlineOf(snap({ storedDeadline: min(50) })), min(50));
  assert.equal(deadlineOf(snap({ since: min(5), storedDeadline: undefined })), min(35));
  assert.equal(deadlineOf(snap({ timeoutSeconds: null })), undefined);
});

test("each environment is planned on its own", () => {
  const a = snap({ id: "a" });
  const b = snap({ id: "b", lastActivityAt: min(20) });
  assert.deepEqual(
    planIdle([a, b], min(31)).map((x) => `${x.type}:${x.id}`),
    ["stop:a"],
  );
});
