import assert from "node:assert/strict";
import { test } from "node:test";
import type { DesiredState, EnvState } from "@warren/protocol";
import { type Action, plan } from "../src/controllers/environment/plan.ts";

type Obs = "running" | "stopped" | "absent";
const row = (desired: DesiredState, state: EnvState, stopGraceMs = 10_000) => ({
  desired,
  state,
  stopGraceMs,
});
const types = (actions: Action[]) =>
  actions.map((a) =>
    a.type === "setState"
      ? `state:${a.state}`
      : a.type === "event"
        ? `event:${a.message}`
        : a.type === "ensureStopped"
          ? `ensureStopped:${a.graceMs}`
          : a.type,
  );

const cases: [string, ReturnType<typeof row> | undefined, Obs, string[]][] = [
  ["row gone: nothing", undefined, "running", []],
  [
    "new env: create and start",
    row("running", "pending"),
    "absent",
    ["state:creating", "ensureRunning", "event:created", "state:running", "event:started"],
  ],
  [
    "retry mid-create keeps creating",
    row("running", "creating"),
    "absent",
    ["ensureRunning", "event:created", "state:running", "event:started"],
  ],
  [
    "start a stopped env",
    row("running", "stopped"),
    "stopped",
    ["state:pending", "ensureRunning", "state:running", "event:started"],
  ],
  ["running and observed running: idle", row("running", "running"), "running", []],
  [
    "crash after ensureRunning: adopt",
    row("running", "creating"),
    "running",
    ["state:running", "event:started"],
  ],
  [
    "drift: running env vanished from host",
    row("running", "running"),
    "absent",
    ["state:creating", "ensureRunning", "state:running", "event:started"],
  ],
  ["failed stays failed", row("running", "failed"), "absent", []],
  [
    "stop a running env",
    row("stopped", "running"),
    "running",
    ["state:stopping", "ensureStopped:10000", "state:stopped", "event:stopped"],
  ],
  [
    "stop already under way",
    row("stopped", "stopping"),
    "running",
    ["ensureStopped:10000", "state:stopped", "event:stopped"],
  ],
  [
    "stopped on the host by itself",
    row("stopped", "stopping"),
    "stopped",
    ["state:stopped", "event:stopped"],
  ],
  ["stopped and observed stopped: idle", row("stopped", "stopped"), "stopped", []],
  ["stopped failed env stays failed", row("stopped", "failed"), "running", []],
  [
    "delete running env gracefully",
    row("deleted", "running", 5000),
    "running",
    ["state:deleting", "event:deleting", "ensureStopped:5000", "remove", "event:deleted", "deleteRow"],
  ],
  [
    "force delete skips the grace stop",
    row("deleted", "running", 0),
    "running",
    ["state:deleting", "event:deleting", "remove", "event:deleted", "deleteRow"],
  ],
  [
    "delete a stopped env",
    row("deleted", "stopped"),
    "stopped",
    ["state:deleting", "event:deleting", "remove", "event:deleted", "deleteRow"],
  ],
  [
    "delete retry (already deleting, absent)",
    row("deleted", "deleting"),
    "absent",
    ["remove", "event:deleted", "deleteRow"],
  ],
  [
    "delete a failed env",
    row("deleted", "failed"),
    "absent",
    ["state:deleting", "event:deleting", "remove", "event:deleted", "deleteRow"],
  ],
];

for (const [name, r, observed, want] of cases) {
  test(`plan: ${name}`, () => {
    assert.deepEqual(types(plan({ row: r, observed: { state: observed } })), want);
  });
}

test("plan: the deleted event is not written to the (removed) host log", () => {
  const ev = plan({ row: row("deleted", "deleting"), observed: { state: "absent" } }).find(
    (a) => a.type === "event" && a.message === "deleted",
  );
  assert.deepEqual(ev, { type: "event", message: "deleted", hostLog: false });
});

test("plan: starts and stops the runner makes are logged on the host by the runner alone", () => {
  const hostLogged = (r: ReturnType<typeof row>, observed: Obs) =>
    plan({ row: r, observed: { state: observed } })
      .filter((a) => a.type === "event" && a.hostLog !== false)
      .map((a) => (a.type === "event" ? a.message : ""));
  assert.deepEqual(hostLogged(row("running", "pending"), "absent"), ["created"]);
  assert.deepEqual(hostLogged(row("running", "stopped"), "stopped"), []);
  assert.deepEqual(hostLogged(row("stopped", "running"), "running"), []);
  // No runner stop happened (init died on its own): only the controller can say it stopped.
  assert.deepEqual(hostLogged(row("stopped", "running"), "stopped"), ["stopped"]);
});
