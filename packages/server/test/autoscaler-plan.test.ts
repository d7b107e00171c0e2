// controllers/autoscaler/plan.ts: every case a row. Runners have 10 GiB and 4 CPUs each; the
// target is 50 % of memory; times are seconds after T0; min 1, max 6, step up 2, step down 1,
// cooldowns 60 s up / 300 s down, stabilisation 300 s, boot timeout 600 s.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AutoscalerPolicy,
  type AutoscalerSnapshot,
  DEFAULT_POLICY,
  type ManagedHost,
  type PoolRunner,
  planAutoscaler,
} from "../src/controllers/autoscaler/plan.ts";

const GiB = 1024 ** 3;
const T0 = Date.parse("2026-01-01T00:00:00Z");
const sec = (s: number) => T0 + s * 1000;
const policy: AutoscalerPolicy = { ...DEFAULT_POLICY, minRunners: 1, maxRunners: 6, maxStepUp: 2 };

/** A ready runner `name` with `gib` GiB allocated of 10 and `envs` environments. */
const r = (
  name: string,
  gib: number,
  envs = gib > 0 ? 1 : 0,
  over: Partial<PoolRunner> = {},
): PoolRunner => ({
  id: `tok_${name}`,
  name,
  schedule: "active",
  connected: true,
  capacity: { cpus: 4, memoryBytes: 10 * GiB },
  allocated: { cpus: gib / 2, memoryBytes: gib * GiB },
  envCount: envs,
  ...over,
});
/** A host the autoscaler made for runner `name`. */
const h = (name: string, state: ManagedHost["state"] = "ready", createdAt = sec(-3600)): ManagedHost => ({
  requestId: `req_${name}`,
  runnerId: `tok_${name}`,
  state,
  createdAt,
});
const snap = (o: Partial<AutoscalerSnapshot>): AutoscalerSnapshot => ({
  now: sec(1000),
  runners: [],
  hosts: [],
  demand: { count: 0, cpus: 0, memoryBytes: 0 },
  state: {},
  ...o,
});
const demand = (count: number, gib: number) => ({ count, cpus: count, memoryBytes: gib * GiB });
const summary = (s: AutoscalerSnapshot, p = policy) => {
  const plan = planAutoscaler(s, p);
  return {
    actions: plan.actions.map((a) =>
      a.type === "create" ? `create ${a.count}` : `${a.type} ${a.runnerId.replace("tok_", "")}`,
    ),
    desired: plan.desired,
    decision: plan.decision,
  };
};

type Row = [string, Partial<AutoscalerSnapshot>, string[], number, RegExp, Partial<AutoscalerPolicy>?];
const cases: Row[] = [
  ["at target: steady", { runners: [r("a", 5), r("b", 5)] }, [], 2, /^steady at 2: memory utilisation 50%/],
  ["within the 10 % band: steady", { runners: [r("a", 5.4), r("b", 5.4)] }, [], 2, /^steady at 2/],
  [
    "above target: HPA formula ceil(2 × 0.8 / 0.5) = 4",
    { runners: [r("a", 8), r("b", 8)] },
    ["create 2"],
    4,
    /^scale up 2 → 4: memory utilisation 80% \(target 50%\)$/,
  ],
  [
    "step limit: wants 6, adds 2",
    { runners: [r("a", 10), r("b", 10), r("c", 10)] },
    ["create 2"],
    6,
    /^scale up 3 → 5: .*; step limit 2$/,
  ],
  [
    "capped at max",
    { runners: [r("a", 10), r("b", 10), r("c", 10), r("d", 10), r("e", 10)] },
    ["create 1"],
    6,
    /scale up 5 → 6: .*; capped at max 6/,
  ],
  [
    "at max: steady, says capped",
    { runners: [1, 2, 3, 4, 5, 6].map((i) => r(`r${i}`, 10)) },
    [],
    6,
    /^steady at 6: .*capped at max 6/,
  ],
  [
    "scale-up cooldown holds",
    { runners: [r("a", 9), r("b", 9)], state: { lastUpAt: sec(970) } },
    [],
    4,
    /^hold at 2: want 4 .*scale-up cooldown for 30s$/,
  ],
  [
    "after the cooldown it scales",
    { runners: [r("a", 9), r("b", 9)], state: { lastUpAt: sec(940) } },
    ["create 2"],
    4,
    /^scale up 2 → 4/,
  ],
  [
    "unplaceable creates scale up even at low utilisation: 12 GiB needs ceil(12/5) = 3",
    { runners: [r("a", 1)], demand: demand(3, 12) },
    ["create 2"],
    4,
    /^scale up 1 → 3: 3 creates could not be placed; step limit 2$/,
  ],
  [
    "demand with no runner at all: one to start with",
    { runners: [], demand: demand(1, 2) },
    ["create 1"],
    1,
    /^scale up 0 → 1: 1 create could not be placed$/,
    { minRunners: 0 },
  ],
  ["below min: grows to min", { runners: [] }, ["create 1"], 1, /^scale up 0 → 1: below min 1$/],
  [
    "below min ignores the cooldown",
    { runners: [], state: { lastUpAt: sec(999) } },
    ["create 1"],
    1,
    /^scale up 0 → 1/,
  ],
  [
    "a booting host counts: no second create for the same load",
    { runners: [r("a", 8), r("b", 8)], hosts: [h("c", "creating", sec(900)), h("d", "creating", sec(900))] },
    [],
    4,
    /^steady at 4/,
  ],
  [
    "its runner connected: adopted",
    { runners: [r("a", 10), r("c", 0)], hosts: [h("c", "creating", sec(900))] },
    ["adopt c"],
    2,
    /steady at 2/,
  ],
  [
    "a host that never connected is deleted after the boot timeout",
    { runners: [r("a", 5)], hosts: [h("c", "creating", sec(400))] },
    ["delete c"],
    1,
    /steady at 1/,
  ],
  [
    "below target but not for the stabilisation window: hold",
    { runners: [r("a", 1), r("b", 0)], hosts: [h("b")], state: { belowSince: sec(800) } },
    [],
    1,
    /^hold at 2: want 1 .*stabilising for 100s$/,
  ],
  [
    "below target long enough: drains one empty runner it made",
    { runners: [r("a", 1), r("b", 0), r("c", 0)], hosts: [h("b"), h("c")], state: { belowSince: sec(600) } },
    ["drain c"],
    1,
    /^scale down 3 → 2: memory utilisation 3% .*; draining c \(empty\)$/,
  ],
  [
    "never a runner holding an environment, even a stopped one",
    { runners: [r("a", 1), r("b", 0, 1)], hosts: [h("a"), h("b")], state: { belowSince: sec(0) } },
    [],
    1,
    /no empty runner this autoscaler made to remove/,
  ],
  [
    "never a runner it did not make",
    { runners: [r("a", 1), r("manual", 0)], hosts: [h("a")], state: { belowSince: sec(0) } },
    [],
    1,
    /no empty runner this autoscaler made to remove/,
  ],
  [
    "scale-down cooldown after a scale-up",
    { runners: [r("a", 1), r("b", 0)], hosts: [h("b")], state: { belowSince: sec(0), lastUpAt: sec(900) } },
    [],
    1,
    /scale-down cooldown for 200s/,
  ],
  [
    "no scale-down while a host boots",
    {
      runners: [r("a", 1), r("b", 0)],
      hosts: [h("b"), h("c", "creating", sec(990))],
      state: { belowSince: sec(0) },
    },
    [],
    1,
    /1 host\(s\) still booting/,
  ],
  [
    "never below min",
    { runners: [r("a", 0)], hosts: [h("a")], state: { belowSince: sec(0) } },
    [],
    1,
    /^steady at 1/,
  ],
  [
    "a drained runner still empty is deleted",
    { runners: [r("a", 5), r("b", 0, 0, { schedule: "draining" })], hosts: [h("b", "draining")] },
    ["delete b"],
    1,
    /steady at 1/,
  ],
  [
    "an environment landed while draining: it serves again",
    { runners: [r("a", 5), r("b", 2, 1, { schedule: "draining" })], hosts: [h("b", "draining")] },
    ["undrain b"],
    1,
    /steady at 1/,
  ],
  [
    "a failed delete is retried",
    { runners: [r("a", 5)], hosts: [h("z", "deleting")] },
    ["delete z"],
    1,
    /steady at 1/,
  ],
  [
    "cordoned and disconnected runners are not capacity",
    {
      runners: [r("a", 8), r("b", 0, 0, { schedule: "cordoned" }), r("c", 0, 0, { connected: false })],
    },
    ["create 1"],
    2,
    /^scale up 1 → 2: memory utilisation 80%/,
  ],
  [
    "cpu as the resource",
    { runners: [r("a", 8), r("b", 8)] },
    ["create 2"],
    4,
    /cpu utilisation 100%/,
    { resource: "cpu" },
  ],
  [
    "no capacity reported: steady",
    { runners: [r("a", 0, 0, { capacity: { cpus: 0, memoryBytes: 0 } })] },
    [],
    1,
    /no capacity reported/,
  ],
];

for (const [name, s, actions, desired, decision, p] of cases) {
  test(`autoscaler plan: ${name}`, () => {
    const got = summary(snap(s), { ...policy, ...p });
    assert.deepEqual(got.actions, actions, got.decision);
    assert.equal(got.desired, desired, got.decision);
    assert.match(got.decision, decision);
  });
}

test("autoscaler plan: below-target time is remembered, and forgotten once utilisation recovers", () => {
  const runners = [r("a", 1), r("b", 0)];
  const first = planAutoscaler(snap({ runners, hosts: [h("b")] }), policy);
  assert.equal(first.state.belowSince, sec(1000));
  const later = planAutoscaler(
    snap({ now: sec(1100), runners, hosts: [h("b")], state: first.state }),
    policy,
  );
  assert.equal(later.state.belowSince, sec(1000), "kept while still below");
  const busy = planAutoscaler(
    snap({ now: sec(1200), runners: [r("a", 5), r("b", 5)], state: later.state }),
    policy,
  );
  assert.equal(busy.state.belowSince, undefined);
});

test("autoscaler plan: a scale records its time for the cooldowns", () => {
  const up = planAutoscaler(snap({ runners: [r("a", 9)] }), policy);
  assert.equal(up.state.lastUpAt, sec(1000));
  const down = planAutoscaler(
    snap({ runners: [r("a", 1), r("b", 0)], hosts: [h("b")], state: { belowSince: sec(0) } }),
    policy,
  );
  assert.equal(down.state.lastDownAt, sec(1000));
  assert.equal(down.state.lastUpAt, undefined);
});
