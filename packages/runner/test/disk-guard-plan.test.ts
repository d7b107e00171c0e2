// The hard disk floor's decisions, one table row per case: below the hard floor the environment
// whose disk grew most since the last sample is frozen (one per sample); between the floors
// nothing changes; at or above the soft floor whatever the guard froze resumes.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type DiskGuardAction,
  type DiskGuardEnv,
  hardFloorBytes,
  planDiskGuard,
} from "../src/storage/disk-guard-plan.ts";

const GiB = 1024 ** 3;
const env = (id: string, prev: number | undefined, now: number, frozenByGuard = false): DiskGuardEnv => ({
  id,
  usedBytes: now * GiB,
  ...(prev !== undefined ? { previousUsedBytes: prev * GiB } : {}),
  frozenByGuard,
});
const floors = { hardFloorBytes: 1 * GiB, resumeBytes: 5 * GiB };

const rows: [string, number, DiskGuardEnv[], DiskGuardAction[]][] = [
  ["plenty free: nothing", 50, [env("a", 1, 3)], []],
  ["between the floors: nothing new is frozen", 3, [env("a", 1, 3)], []],
  ["between the floors: a frozen one stays frozen", 3, [env("a", 1, 3, true)], []],
  [
    "below the hard floor: the largest writer",
    0.5,
    [env("a", 1, 2), env("b", 1, 4), env("c", 5, 5)],
    [{ kind: "freeze", id: "b", wroteBytes: 3 * GiB }],
  ],
  [
    "below: one already frozen, the next writer goes",
    0.5,
    [env("a", 1, 2), env("b", 1, 4, true)],
    [{ kind: "freeze", id: "a", wroteBytes: GiB }],
  ],
  ["below: nobody wrote, nobody is blamed", 0.5, [env("a", 2, 2), env("b", 3, 1)], []],
  ["below: a first sample has no growth to judge", 0.5, [env("a", undefined, 9)], []],
  [
    "back above the soft floor: every frozen one resumes",
    5,
    [env("a", 1, 1, true), env("b", 1, 1), env("c", 1, 1, true)],
    [
      { kind: "thaw", id: "a" },
      { kind: "thaw", id: "c" },
    ],
  ],
];

for (const [name, freeGiB, envs, want] of rows) {
  test(`disk guard: ${name}`, () => {
    assert.deepEqual(planDiskGuard({ freeBytes: freeGiB * GiB, ...floors, envs }), want);
  });
}

test("the hard floor is max(1 GiB, 1 %) or the knob, never above the soft floor", () => {
  assert.equal(hardFloorBytes({ totalBytes: 40 * GiB, softFloorBytes: 5 * GiB }), GiB);
  assert.equal(hardFloorBytes({ totalBytes: 400 * GiB, softFloorBytes: 20 * GiB }), Math.ceil(4 * GiB));
  assert.equal(hardFloorBytes({ knob: 2 * GiB, totalBytes: 400 * GiB, softFloorBytes: 20 * GiB }), 2 * GiB);
  assert.equal(hardFloorBytes({ knob: 9 * GiB, totalBytes: 400 * GiB, softFloorBytes: 5 * GiB }), 5 * GiB);
});
