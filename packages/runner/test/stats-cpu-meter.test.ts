import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuMeter } from "../src/engine/stats.ts";

test("CpuMeter: a rate needs a kept sample 0.5-3 s old; restarts and stale samples give null", () => {
  const m = new CpuMeter();
  assert.equal(m.rate("a", 0, 0), null, "first sample");
  assert.equal(m.rate("a", 1e8, 100), null, "too soon: the older sample is kept");
  assert.equal(m.rate("a", 1.5e9, 1000), 1.5, "1.5 s of cpu over 1 s since the kept sample");
  assert.equal(m.rate("a", 2.5e9, 3000), 0.5);
  assert.equal(m.rate("a", 3e9, 6500), null, "3.5 s: too old to say now");
  assert.equal(m.rate("a", 1e6, 7000), null, "counter went back: a new cgroup after restart");
  assert.equal(m.rate("a", 1e6, 60_000), null, "stale");
  assert.equal(m.rate("b", 0, 60_000), null, "per environment");
  m.forget("a");
  assert.equal(m.rate("a", 5e9, 61_000), null);
});
