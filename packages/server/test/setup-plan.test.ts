// controllers/setup/plan.ts: every case a row.
import assert from "node:assert/strict";
import { test } from "node:test";
import { planSetup, type SetupSnapshot } from "../src/controllers/setup/plan.ts";

const env = (over: Partial<SetupSnapshot["env"]> = {}): SetupSnapshot["env"] => ({
  desired: "running",
  state: "running",
  image: "warren/debian:bookworm",
  startedAt: "2026-01-01T00:00:00.000Z",
  ...over,
});
type Setup = NonNullable<SetupSnapshot["setup"]>;
const cases: [string, Setup | undefined, Partial<SetupSnapshot["env"]>, string[]][] = [
  ["an environment made from an image has no setup", undefined, {}, []],
  ["clone first, in the running bootstrap container", { phase: "clone" }, {}, ["clone"]],
  ["nothing while it is still being created", { phase: "clone" }, { state: "creating" }, []],
  ["nothing while it is stopped", { phase: "configure" }, { desired: "stopped", state: "stopped" }, []],
  ["nothing while it is being deleted", { phase: "build" }, { desired: "deleted", state: "deleting" }, []],
  ["configure after the clone", { phase: "configure" }, {}, ["configure"]],
  ["build after configure", { phase: "build" }, {}, ["build"]],
  ["restart into the image", { phase: "restart" }, {}, ["restart"]],
  ["create-time hooks once", { phase: "hooks" }, {}, ["createHooks"]],
  [
    "create-time hooks that ran are not run again",
    { phase: "ready", created: true, startedFor: "2026-01-01T00:00:00.000Z" },
    {},
    [],
  ],
  [
    "a new start runs the start hooks",
    { phase: "ready", created: true, startedFor: "2026-01-01T00:00:00.000Z" },
    { startedAt: "2026-01-02T00:00:00.000Z" },
    ["startHooks"],
  ],
  ["a failed setup waits for rebuild", { phase: "failed" }, {}, []],
  ["a failed environment runs nothing", { phase: "hooks" }, { state: "failed" }, []],
];

for (const [name, setup, over, want] of cases) {
  test(name, () => {
    assert.deepEqual(
      planSetup({ setup, env: env(over) }).map((a) => a.type),
      want,
    );
  });
}
