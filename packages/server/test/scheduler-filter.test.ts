import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cpuRatio,
  FREE_MEMORY_FLOOR_MIN_BYTES,
  freeMemoryFloorBytes,
  memoryRatio,
  whyRejected,
} from "../src/scheduler/filter.ts";
import { GiB, request, runner } from "./scheduler-fixtures.ts";

// 5 % of 32 GiB, rounded up: above the 1 GiB minimum, so the fraction decides on this host.
const floor32 = Math.ceil(32 * GiB * 0.05);

// [row, request, runner, expected reason (a substring) or undefined when the runner fits]
const cases: [string, ReturnType<typeof request>, ReturnType<typeof runner>, string | undefined][] = [
  ["idle matching runner fits", request(), runner("r1"), undefined],
  ["disconnected", request(), runner("r1", { connected: false }), "disconnected"],
  ["cordoned", request(), runner("r1", { cordoned: true }), "cordoned"],
  ["other organisation", request({ orgId: "org2" }), runner("r1"), "serves other organisations"],
  [
    "shared runner serves every organisation",
    request({ orgId: "org2" }),
    runner("r1", { orgIds: "shared" }),
    undefined,
  ],
  ["runtime missing", request({ runtime: "gvisor" }), runner("r1"), "lacks runtime gvisor (has crun, runc)"],
  ["label missing", request({ requiredLabels: { gpu: "none" } }), runner("r1"), "needs label gpu=none"],
  [
    "label differs",
    request({ requiredLabels: { zone: "eu" } }),
    runner("r1", { labels: { zone: "us" } }),
    "needs label zone=eu (has zone=us)",
  ],
  ["label matches", request({ requiredLabels: { zone: "eu" } }), runner("r1"), undefined],
  [
    "last free slot fits",
    request(),
    runner("r1", { capacity: { slots: 3 }, allocated: { slots: 2 } }),
    undefined,
  ],
  [
    "no free slot",
    request(),
    runner("r1", { capacity: { slots: 3 }, allocated: { slots: 3 } }),
    "no free slots (3 of 3 in use)",
  ],
  [
    "disk exactly full after placement fits",
    request(),
    runner("r1", { capacity: { diskBytes: 100 * GiB }, allocated: { diskBytes: 90 * GiB } }),
    undefined,
  ],
  [
    "disk one byte over",
    request(),
    runner("r1", { capacity: { diskBytes: 100 * GiB - 1 }, allocated: { diskBytes: 90 * GiB } }),
    "disk 90Gi of 100Gi allocated (100Gi free, ratio 1:1), needs 10Gi",
  ],
  [
    "disk at 4:1 fits four times the free space",
    request({ overcommit: { disk: 4 } }),
    runner("r1", { capacity: { diskBytes: 78 * GiB }, allocated: { diskBytes: 302 * GiB } }),
    undefined,
  ],
  [
    "disk over 4:1",
    request({ overcommit: { disk: 4 } }),
    runner("r1", { capacity: { diskBytes: 78 * GiB }, allocated: { diskBytes: 303 * GiB } }),
    "disk 303Gi of 312Gi allocated (78Gi free, ratio 4:1), needs 10Gi",
  ],
  [
    "disk ratio below 1 is the default 4:1, never a shrink",
    request({ overcommit: { disk: 0.5 } }),
    runner("r1", { capacity: { diskBytes: 78 * GiB }, allocated: { diskBytes: 300 * GiB } }),
    undefined,
  ],
  [
    "cpu exactly at 4:1 fits",
    request(),
    runner("r1", { capacity: { cpus: 4 }, allocated: { cpus: 14 } }),
    undefined,
  ],
  [
    "cpu over 4:1",
    request(),
    runner("r1", { capacity: { cpus: 4 }, allocated: { cpus: 14.5 } }),
    "cpu 14.5 of 16 allocated (ratio 4:1), needs 2",
  ],
  [
    "cpu 1:1 class on the same runner",
    request({ overcommit: { cpu: 1 } }),
    runner("r1", { capacity: { cpus: 4 }, allocated: { cpus: 3 } }),
    "cpu 3 of 4 allocated (ratio 1:1)",
  ],
  // 0.1 + 2.7 + 0.2 sums to 3.0000000000000004 in floating point: still exactly the limit.
  [
    "cpu float sum at the limit fits",
    request({ resources: { cpus: 0.2 }, overcommit: { cpu: 1 } }),
    runner("r1", { capacity: { cpus: 3 }, allocated: { cpus: 0.1 + 2.7 } }),
    undefined,
  ],
  [
    "memory exactly at 1:1 fits",
    request(),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 6 * GiB } }),
    undefined,
  ],
  [
    "memory one byte over 1:1",
    request({ resources: { memoryBytes: 2 * GiB + 1 } }),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 6 * GiB } }),
    "memory 6Gi of 8Gi allocated (ratio 1:1)",
  ],
  [
    "memory ratio 2 clamped to 1.5: at 1.5 fits",
    request({ overcommit: { memory: 2 } }),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 10 * GiB } }),
    undefined,
  ],
  [
    "memory ratio 2 clamped to 1.5: one byte over",
    request({ resources: { memoryBytes: 2 * GiB + 1 }, overcommit: { memory: 2 } }),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 10 * GiB } }),
    "memory 10Gi of 12Gi allocated (ratio 1.5:1)",
  ],
  [
    "memory ratio 0.5 raised to 1",
    request({ overcommit: { memory: 0.5 } }),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, allocated: { memoryBytes: 6 * GiB } }),
    undefined,
  ],
  [
    "floor: exactly 5 % left free fits",
    request(),
    runner("r1", { usage: { memoryWorkingSetBytes: 30 * GiB - floor32 } }),
    undefined,
  ],
  [
    "floor: one byte under 5 % free",
    request(),
    runner("r1", { usage: { memoryWorkingSetBytes: 30 * GiB - floor32 + 1 } }),
    "free-memory floor",
  ],
  [
    "floor: small host keeps 1 GiB, exactly",
    request(),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, usage: { memoryWorkingSetBytes: 5 * GiB } }),
    undefined,
  ],
  [
    "floor: small host keeps 1 GiB, one byte under",
    request(),
    runner("r1", { capacity: { memoryBytes: 8 * GiB }, usage: { memoryWorkingSetBytes: 5 * GiB + 1 } }),
    "under the 1Gi free-memory floor",
  ],
  [
    "floor holds even when the ratio allows more",
    request({ overcommit: { memory: 1.5 } }),
    runner("r1", {
      capacity: { memoryBytes: 8 * GiB },
      allocated: { memoryBytes: 9 * GiB },
      usage: { memoryWorkingSetBytes: 6 * GiB },
    }),
    "free-memory floor",
  ],
  [
    "NaN usage from a runner is refused",
    request(),
    runner("r1", { usage: { cpuEwmaCores: Number.NaN } }),
    "not a non-negative number",
  ],
  [
    "negative capacity from a runner is refused",
    request(),
    runner("r1", { allocated: { memoryBytes: -1 } }),
    "not a non-negative number",
  ],
];

for (const [name, req, r, want] of cases) {
  test(`filter: ${name}`, () => {
    const why = whyRejected(req, r);
    if (want === undefined) assert.equal(why, undefined);
    else assert.ok(why?.includes(want), `expected "${want}" in ${JSON.stringify(why)}`);
  });
}

test("filter: ratio defaults and clamps", () => {
  assert.deepEqual(
    [memoryRatio(2), memoryRatio(0.5), memoryRatio(1.25), memoryRatio(Number.NaN)],
    [1.5, 1, 1.25, 1],
  );
  assert.deepEqual([cpuRatio(8), cpuRatio(0), cpuRatio(Number.POSITIVE_INFINITY)], [8, 4, 4]);
});

test("filter: the free-memory floor is max(1 GiB, 5 %)", () => {
  assert.equal(freeMemoryFloorBytes(8 * GiB), FREE_MEMORY_FLOOR_MIN_BYTES);
  assert.equal(freeMemoryFloorBytes(32 * GiB), floor32);
  assert.ok(floor32 > GiB);
});
