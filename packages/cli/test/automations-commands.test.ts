// `warren service ls`, `warren task ls` and `warren task run`'s output: states, what a service
// waits for, and only the last run of a task (its log keeps earlier runs).
import assert from "node:assert/strict";
import { it } from "node:test";
import { serviceTable } from "../src/commands/service-ls.ts";
import { taskTable } from "../src/commands/task-ls.ts";
import { lastRun } from "../src/commands/task-run.ts";

it("service ls shows state, pid, restarts and why it waits; control characters are escaped", () => {
  const out = serviceTable("dev", {
    running: true,
    items: [
      { name: "db", state: "ready", pid: 12, restarts: 1, dependsOn: [] },
      {
        name: "web",
        state: "waiting",
        restarts: 0,
        dependsOn: ["db", "cache"],
        message: "waiting for cache\u001b[2J",
      },
    ],
  });
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^SERVICE\s+STATE\s+PID\s+RESTARTS\s+DEPENDS ON\s+MESSAGE$/);
  assert.match(lines[1] ?? "", /^db\s+ready\s+12\s+1\s+-/);
  assert.match(lines[2] ?? "", /^web\s+waiting\s+-\s+0\s+db,cache\s+waiting for cache/);
  assert.ok(!out.includes("\u001b"), "no escape sequence reaches the terminal");
  assert.match(
    serviceTable("dev", {
      running: false,
      items: [{ name: "db", state: "idle", restarts: 0, dependsOn: [] }],
    }),
    /are not running/,
  );
  assert.match(serviceTable("dev", { running: true, items: [] }), /has no services/);
});

it("task ls shows runs, exit status and triggers", () => {
  const out = taskTable("dev", {
    running: true,
    items: [
      {
        name: "seed",
        state: "failed",
        runs: 2,
        exitCode: 3,
        dependsOn: ["db"],
        triggeredBy: ["postEnvironmentStart", "manual"],
      },
    ],
  });
  assert.match(out, /\nseed\s+failed\s+2\s+3\s+postEnvironmentStart,manual\s+db/);
});

it("task run prints only the last run's output", () => {
  const log =
    "[warren-supervise] starting seed\nfirst\n[warren-supervise] starting seed\nsecond\n[warren-supervise] seed finished with status 0\n";
  assert.equal(lastRun(log, "seed"), "second\n[warren-supervise] seed finished with status 0\n");
});
