import assert from "node:assert/strict";
import { test } from "node:test";
import { placeEnvironment } from "../src/scheduler/place.ts";
import type { PlacementDecision } from "../src/scheduler/types.ts";
import { GiB, request, runner } from "./scheduler-fixtures.ts";

const cases: [string, ReturnType<typeof request>, ReturnType<typeof runner>[], Partial<PlacementDecision>][] =
  [
    [
      "busiest fitting runner with the image",
      request(),
      [
        runner("r1", { usage: { cpuEwmaCores: 4, memoryWorkingSetBytes: 8 * GiB } }),
        runner("r3", { usage: { cpuEwmaCores: 8, memoryWorkingSetBytes: 16 * GiB }, images: ["debian:12"] }),
      ],
      {
        kind: "placed",
        runnerId: "id-r3",
        runnerName: "r3",
        explanation: "placed on r3: busiest runner that fits (live cpu 50%, memory 50%), image cached",
      },
    ],
    [
      "a busier runner that cannot take it is skipped",
      request(),
      [
        runner("r1", { cordoned: true, usage: { cpuEwmaCores: 15 } }),
        runner("r2", { usage: { cpuEwmaCores: 4 }, images: ["debian:12"] }),
      ],
      {
        kind: "placed",
        runnerName: "r2",
        explanation: "placed on r2: only runner that fits (live cpu 25%, memory 0%), image cached",
      },
    ],
    [
      "spread is named when it decided",
      request({ ownerId: "alice" }),
      [runner("r1", { ownerEnvCounts: { alice: 1 } }), runner("r2")],
      {
        kind: "placed",
        runnerName: "r2",
        explanation:
          "placed on r2: busiest runner that fits (live cpu 0%, memory 0%), no other environment of this owner",
      },
    ],
    [
      "unschedulable lists each runner's reason, by name",
      request({ requiredLabels: { zone: "eu" }, resources: { memoryBytes: GiB } }),
      [
        runner("r3", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 7.5 * GiB } }),
        runner("r1", { cordoned: true }),
        runner("r2", { labels: { zone: "us" } }),
      ],
      {
        kind: "unschedulable",
        explanation:
          "no runner can take it: r1 cordoned; r2 needs label zone=eu (has zone=us); r3 memory 7.5Gi of 8Gi allocated (ratio 1:1), needs 1Gi",
      },
    ],
    [
      "no runners at all",
      request(),
      [],
      { kind: "unschedulable", explanation: "no runner can take it: no runners are registered" },
    ],
  ];

for (const [name, req, runners, want] of cases) {
  test(`place: ${name}`, () => {
    const got = placeEnvironment(req, runners);
    const picked = Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof typeof got]]));
    assert.deepEqual(picked, want);
  });
}

test("place: unschedulable carries one rejection per runner", () => {
  const got = placeEnvironment(request({ runtime: "gvisor" }), [
    runner("r2", { connected: false }),
    runner("r1"),
  ]);
  assert.equal(got.kind, "unschedulable");
  assert.deepEqual(got.kind === "unschedulable" ? got.rejected : [], [
    { runnerName: "r1", why: "lacks runtime gvisor (has crun, runc)" },
    { runnerName: "r2", why: "disconnected" },
  ]);
});

test("place: the same snapshots give the same decision on every replica", () => {
  const runners = [runner("b"), runner("a"), runner("c")];
  const first = placeEnvironment(request(), runners);
  const again = placeEnvironment(request(), [...runners].reverse());
  assert.deepEqual(again, first);
  assert.equal(first.kind === "placed" ? first.runnerName : "", "a");
});
