// The periodic resync enqueues only environments a pass would change (controllers/environment/resync.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EnvObserved } from "@warren/protocol";
import { needsPass, resyncIds } from "../src/controllers/environment/resync.ts";
import { envRow } from "./store-fixtures.ts";

const GiB = 1024 ** 3;
const running: EnvObserved = {
  id: "aaaaaaaaaaaa",
  state: "running",
  pid: 4242,
  resources: { cpus: 1.5, memoryBytes: 3 * GiB, diskBytes: 100 * GiB, pids: 100 },
};
const settled = envRow("aaaaaaaaaaaa", { state: "running", observed: JSON.stringify(running) });

test("a settled environment whose observation is stored needs no pass", () => {
  assert.equal(needsPass(settled, running), false);
});

test("anything a pass would change needs one", () => {
  const cases: [string, Parameters<typeof needsPass>[0], EnvObserved | undefined][] = [
    ["not reported by the runner", settled, undefined],
    ["died on the host", settled, { ...running, state: "stopped" }],
    ["restarted (new pid): stored observation stale", settled, { ...running, pid: 5000 }],
    ["a resize not applied yet", envRow("aaaaaaaaaaaa", { ...settled, cpus: 2 }), running],
    ["still pending", envRow("aaaaaaaaaaaa", { ...settled, state: "pending" }), running],
    ["being deleted", envRow("aaaaaaaaaaaa", { ...settled, desired: "deleted" }), running],
    [
      "a retry condition to clear",
      envRow("aaaaaaaaaaaa", {
        ...settled,
        conditions: JSON.stringify([
          { type: "ReconcileError", status: "True", reason: "x", message: "", at: "t" },
        ]),
      }),
      running,
    ],
  ];
  for (const [why, row, observed] of cases) assert.equal(needsPass(row, observed), true, why);
});

test("resyncIds: every row when the runner cannot list, else only those that need a pass", () => {
  const other = envRow("bbbbbbbbbbbb", { state: "pending" });
  assert.deepEqual(resyncIds([settled, other], undefined), ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
  assert.deepEqual(resyncIds([settled, other], [running]), ["bbbbbbbbbbbb"]);
});
