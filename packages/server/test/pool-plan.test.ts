// The warm pool's pure plan, one row per case, and its schedule parsing.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BACKOFF_MAX_MS,
  backoffMs,
  type PoolAction,
  type PoolConfigView,
  type PoolMemberView,
  type PoolSnapshot,
  planPool,
  poolShareFits,
  targetSize,
} from "../src/controllers/pool/plan.ts";
import { formatSchedule, parseSchedule, scheduledMin } from "../src/controllers/pool/schedule.ts";

const NOW = Date.parse("2026-12-07T10:00:00Z"); // a Monday
const cfg = (o: Partial<PoolConfigView> = {}): PoolConfigView => ({
  minSize: 2,
  maxSize: 5,
  schedule: [],
  failures: 0,
  retryAtMs: null,
  ...o,
});
let n = 0;
const member = (o: Partial<PoolMemberView> = {}): PoolMemberView => ({
  id: `m${n++}`,
  state: "running",
  desired: "running",
  current: true,
  createdAtMs: NOW - 60_000 + n,
  ...o,
});
const snap = (o: Partial<PoolSnapshot> = {}): PoolSnapshot => ({
  nowMs: NOW,
  pool: cfg(),
  classExists: true,
  members: [],
  recentClaims: 0,
  userStartsInFlight: 0,
  shareFits: true,
  ...o,
});
const kinds = (as: PoolAction[]) =>
  as.map((a) => (a.type === "delete" ? `delete:${a.why}` : a.type === "wait" ? `wait:${a.why}` : a.type));

const rows: [string, PoolSnapshot, string[]][] = [
  ["an empty pool below its minimum creates one member", snap(), ["create"]],
  ["a full pool does nothing", snap({ members: [member(), member()] }), []],
  [
    "one per pass: a starting member holds the next creation",
    snap({ members: [member({ state: "creating" })] }),
    ["wait:a member is starting"],
  ],
  ["users' starts go first", snap({ userStartsInFlight: 1 }), ["wait:users' environments start first"]],
  [
    "backoff: no creation before retry_at",
    snap({ pool: cfg({ failures: 2, retryAtMs: NOW + 1000 }) }),
    ["wait:backing off after a failed member"],
  ],
  ["backoff over: creates again", snap({ pool: cfg({ failures: 2, retryAtMs: NOW - 1 }) }), ["create"]],
  [
    "the share of the runners is full",
    snap({ shareFits: false }),
    ["wait:pool members would hold more than 20% of the runners"],
  ],
  [
    "a failed member goes and the pool backs off (and does not create in the same pass)",
    snap({ members: [member({ state: "failed", failure: "boom" }), member()] }),
    ["delete:failed", "backoff", "wait:backing off after a failed member"],
  ],
  [
    "a member still starting after the start timeout counts as failed",
    snap({ members: [member({ state: "creating", createdAtMs: NOW - 6 * 60_000 }), member()] }),
    ["delete:failed", "backoff", "wait:backing off after a failed member"],
  ],
  [
    "a running member clears an earlier backoff",
    snap({ pool: cfg({ failures: 3, retryAtMs: NOW - 1 }), members: [member(), member()] }),
    ["recovered"],
  ],
  [
    "a member of an earlier class shape goes; the pool refills",
    snap({ members: [member({ current: false }), member()] }),
    ["delete:stale", "create"],
  ],
  [
    "a member stopped meanwhile (a class idle limit) is no longer warm: it goes",
    snap({ members: [member({ desired: "stopped", state: "stopped" }), member()] }),
    ["delete:stale", "create"],
  ],
  [
    "a removed pool empties",
    snap({ pool: undefined, members: [member(), member()] }),
    ["delete:unconfigured", "delete:unconfigured"],
  ],
  [
    "a removed class empties its pool",
    snap({ classExists: false, members: [member()] }),
    ["delete:unconfigured"],
  ],
  [
    "members already being deleted are left alone",
    snap({ pool: undefined, members: [member({ desired: "deleted" })] }),
    [],
  ],
  [
    "surplus above the maximum goes",
    snap({ pool: cfg({ minSize: 1, maxSize: 1 }), members: [member(), member(), member()] }),
    ["delete:surplus", "delete:surplus"],
  ],
  [
    "recent claims raise the size up to the maximum",
    snap({ recentClaims: 4, members: [member(), member()] }),
    ["create"],
  ],
  [
    "a minimum of 0 with no claims keeps none",
    snap({ pool: cfg({ minSize: 0 }), members: [member()] }),
    ["delete:surplus"],
  ],
];

for (const [name, s, want] of rows) {
  test(`pool plan: ${name}`, () => assert.deepEqual(kinds(planPool(s)), want));
}

test("pool plan: surplus goes newest first", () => {
  const old = member({ createdAtMs: NOW - 10_000 });
  const young = member({ createdAtMs: NOW - 1_000 });
  const acts = planPool(snap({ pool: cfg({ minSize: 1, maxSize: 1 }), members: [old, young] }));
  assert.deepEqual(acts, [{ type: "delete", id: young.id, why: "surplus" }]);
});

test("pool plan: backoff doubles up to its cap, counting every failure", () => {
  assert.equal(backoffMs(1), 5_000);
  assert.equal(backoffMs(2), 10_000);
  assert.equal(backoffMs(4), 40_000);
  assert.equal(backoffMs(30), BACKOFF_MAX_MS);
  const acts = planPool(
    snap({ pool: cfg({ failures: 1 }), members: [member({ state: "failed", failure: "no image" })] }),
  );
  const b = acts.find((a) => a.type === "backoff");
  assert.deepEqual(b, { type: "backoff", failures: 2, retryAtMs: NOW + 10_000, error: "no image" });
});

test("pool size: minimum, schedule, claim rate and maximum", () => {
  const windows = parseSchedule("mon-fri 08:00-18:00=4");
  assert.equal(targetSize(cfg({ schedule: windows }), NOW, 0), 4, "inside the window (Monday 10:00 UTC)");
  assert.equal(
    targetSize(cfg({ schedule: windows }), NOW + 9 * 3600_000, 0),
    2,
    "after 18:00 the base minimum",
  );
  assert.equal(targetSize(cfg({ schedule: windows }), NOW - 2 * 86_400_000, 0), 2, "Saturday: closed");
  assert.equal(targetSize(cfg(), NOW, 3), 3, "three recent claims keep three ready");
  assert.equal(targetSize(cfg(), NOW, 50), 5, "never above the maximum");
});

test("pool schedule: parses, formats back, and rejects what it cannot read", () => {
  const w = parseSchedule("mon-fri 08:00-18:00=5, sat 22:00-02:00=1, 12:00-13:00=2");
  assert.deepEqual(w[0], { days: [1, 2, 3, 4, 5], from: 480, to: 1080, min: 5 });
  assert.equal(formatSchedule(w), "mon-fri 08:00-18:00=5, sat 22:00-02:00=1, 12:00-13:00=2");
  const sunday1am = Date.parse("2026-12-06T01:00:00Z");
  assert.equal(scheduledMin(0, w, sunday1am), 1, "a window past midnight is open after it, on the next day");
  assert.equal(scheduledMin(0, w, sunday1am + 2 * 3600_000), 0);
  assert.equal(
    scheduledMin(0, parseSchedule("fri-mon 00:00-24:00=3"), sunday1am),
    3,
    "day ranges wrap the week",
  );
  for (const bad of [
    "mon 8-18=1",
    "funday 08:00-09:00=1",
    "08:00-08:00=1",
    "25:00-26:00=1",
    "08:00-09:00=500",
  ])
    assert.throws(() => parseSchedule(bad), /invalid schedule window/, bad);
  assert.deepEqual(parseSchedule(""), []);
});

test("pool share: 20% of memory and slots, over all runners and on one", () => {
  const G = 1024 ** 3;
  const r = (mem: number, slots: number, poolMem = 0, pool = 0) => ({
    memoryBytes: mem * G,
    slots,
    poolMemoryBytes: poolMem * G,
    poolMembers: pool,
  });
  assert.equal(poolShareFits([r(24, 100)], 2 * G), true);
  assert.equal(
    poolShareFits([r(24, 100, 4, 2)], 2 * G),
    false,
    "4.8 GiB of 24: a third 2 GiB member is over",
  );
  assert.equal(poolShareFits([r(24, 4)], 1 * G), false, "4 slots: 20% is no whole slot");
  assert.equal(
    poolShareFits([r(10, 100, 1, 1), r(10, 100, 1, 1)], 1 * G),
    true,
    "3 of 20 GiB over two runners, 2 of 10 on one",
  );
  assert.equal(
    poolShareFits([r(10, 100, 1.5, 1), r(10, 100, 1.5, 1)], 1 * G),
    false,
    "fits overall, but on neither runner",
  );
  assert.equal(poolShareFits([], 1), false, "no runner: nothing fits");
});
