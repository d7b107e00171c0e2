import assert from "node:assert/strict";
import { test } from "node:test";
import {
  IMAGE_CACHED_BONUS,
  LIVE_PACKING_WEIGHT,
  OWNER_SPREAD_PENALTY,
  rankRunners,
} from "../src/scheduler/score.ts";
import { GiB, request, runner } from "./scheduler-fixtures.ts";

// Every row's runners hold equal requests (allocated), so a requests-only scorer would tie and
// the name tie-break would pick r1; rows where r2 wins prove the term under test decides.
const sameRequests = { cpus: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB, slots: 4 };
const busy = { cpuEwmaCores: 12, memoryWorkingSetBytes: 24 * GiB };
const calm = { cpuEwmaCores: 2, memoryWorkingSetBytes: 4 * GiB };

const cases: [string, ReturnType<typeof request>, ReturnType<typeof runner>[], string[]][] = [
  [
    "packs by live usage, not by requests",
    request(),
    [
      runner("r1", { allocated: sameRequests, usage: calm }),
      runner("r2", { allocated: sameRequests, usage: busy }),
    ],
    ["r2", "r1"],
  ],
  [
    "live memory alone decides when CPU is equal",
    request(),
    [
      runner("r1", { usage: { cpuEwmaCores: 4, memoryWorkingSetBytes: 2 * GiB } }),
      runner("r2", { usage: { cpuEwmaCores: 4, memoryWorkingSetBytes: 20 * GiB } }),
    ],
    ["r2", "r1"],
  ],
  [
    "live CPU alone decides when memory is equal",
    request(),
    [runner("r1", { usage: { cpuEwmaCores: 1 } }), runner("r2", { usage: { cpuEwmaCores: 9 } })],
    ["r2", "r1"],
  ],
  [
    "spreads an owner's environments",
    request({ ownerId: "alice" }),
    [runner("r1", { ownerEnvCounts: { alice: 1 } }), runner("r2", { ownerEnvCounts: { bob: 5 } })],
    ["r2", "r1"],
  ],
  [
    "more of the owner's environments cost more",
    request({ ownerId: "alice" }),
    [runner("r1", { ownerEnvCounts: { alice: 3 } }), runner("r2", { ownerEnvCounts: { alice: 2 } })],
    ["r2", "r1"],
  ],
  [
    "prefers a runner holding the image",
    request({ image: "node:22" }),
    [runner("r1", { images: ["debian:12"] }), runner("r2", { images: ["node:22"] })],
    ["r2", "r1"],
  ],
  [
    "ties break by name whatever the input order",
    request(),
    [runner("r3"), runner("r1"), runner("r2")],
    ["r1", "r2", "r3"],
  ],
  [
    "equal names break by id",
    request(),
    [runner("same", { id: "b" }), runner("same", { id: "a" })],
    ["same/a", "same/b"],
  ],
];

for (const [name, req, runners, want] of cases) {
  test(`score: ${name}`, () => {
    const ranked = rankRunners(req, runners).map((s) =>
      want.some((w) => w.includes("/")) ? `${s.runner.name}/${s.runner.id}` : s.runner.name,
    );
    assert.deepEqual(ranked, want);
    // The same answer from the reversed input: no dependence on the order runners were listed.
    const reversed = rankRunners(req, [...runners].reverse()).map((s) => s.runner.id);
    assert.deepEqual(
      reversed,
      rankRunners(req, runners).map((s) => s.runner.id),
    );
  });
}

test("score: terms add up with the named weights", () => {
  const [s] = rankRunners(request({ ownerId: "alice", image: "debian:12" }), [
    runner("r1", {
      capacity: { cpus: 10, memoryBytes: 10 * GiB },
      usage: { cpuEwmaCores: 5, memoryWorkingSetBytes: 10 * GiB },
      ownerEnvCounts: { alice: 2 },
      images: ["debian:12"],
    }),
  ]);
  assert.ok(s);
  assert.equal(s.total, LIVE_PACKING_WEIGHT * 0.75 - 2 * OWNER_SPREAD_PENALTY + IMAGE_CACHED_BONUS);
});

test("score: usage above capacity counts as full, not more than full", () => {
  const [over, full] = rankRunners(request(), [
    runner("a-over", { capacity: { cpus: 4 }, usage: { cpuEwmaCores: 40 } }),
    runner("b-full", { capacity: { cpus: 4 }, usage: { cpuEwmaCores: 4 } }),
  ]);
  assert.equal(over?.total, full?.total);
  assert.equal(over?.cpuUse, 1);
});
