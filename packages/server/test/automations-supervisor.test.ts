// What warren-supervise prints comes from inside an environment, so the server takes only known
// names, states and bounded whole numbers from it; and the exec it makes is always the bound
// supervisor, as root inside, never a shell.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Automations, ExecHandlers, ExecRequest, RunnerExec } from "@warren/protocol";
import {
  asAutomations,
  linesOfLastRun,
  parseStatus,
  supervise,
  supervisorAbsent,
} from "../src/services/automations-supervisor.ts";

const A: Automations = {
  services: [{ name: "web", command: "x", restart: "always", dependsOn: [] }],
  tasks: [{ name: "seed", command: "y", dependsOn: [], triggeredBy: ["manual"] }],
};

describe("parseStatus", () => {
  it("takes known units with valid states and numbers", () => {
    const s = parseStatus(
      JSON.stringify([
        { name: "web", kind: "service", state: "ready", restarts: 2, runs: 0, pid: 42, exitCode: 137 },
        {
          name: "seed",
          kind: "task",
          state: "failed",
          restarts: 0,
          runs: 1,
          exitCode: 3,
          message: "dependency db failed",
        },
      ]),
      A,
    );
    assert.deepEqual(s.get("web"), {
      kind: "service",
      state: "ready",
      restarts: 2,
      runs: 0,
      pid: 42,
      exitCode: 137,
    });
    assert.deepEqual(s.get("seed"), {
      kind: "task",
      state: "failed",
      restarts: 0,
      runs: 1,
      exitCode: 3,
      message: "dependency db failed",
    });
  });

  it("drops what a hostile environment could make up", () => {
    const rows: unknown[] = [
      { name: "other", kind: "service", state: "ready" }, // not declared
      { name: "web", kind: "task", state: "done" }, // wrong kind
      { name: "seed", kind: "task", state: "pwned" }, // unknown state
      { name: "web\n", kind: "service", state: "ready" },
      null,
      "web",
    ];
    assert.equal(parseStatus(JSON.stringify(rows), A).size, 0);
    for (const junk of ["", "not json", "{}", '{"name":"web"}', "[".repeat(10_000)]) {
      assert.equal(parseStatus(junk, A).size, 0, junk.slice(0, 20));
    }
    const odd = parseStatus(
      JSON.stringify([
        {
          name: "web",
          kind: "service",
          state: "ready",
          restarts: -1,
          pid: 1.5,
          exitCode: 999,
          message: "\u001b[31mred\u0007",
        },
      ]),
      A,
    ).get("web");
    assert.deepEqual(odd, { kind: "service", state: "ready", restarts: 0, runs: 0, message: "?[31mred?" });
  });
});

it("linesOfLastRun keeps the output since the last start", () => {
  const log =
    "[warren-supervise] starting seed\nold\n[warren-supervise] seed finished with status 0\n[warren-supervise] starting seed\nnew\n";
  assert.deepEqual(linesOfLastRun(log, "seed"), ["new"]);
  assert.deepEqual(linesOfLastRun("just text\n", "seed"), ["just text"]);
});

it("asAutomations accepts only the stored shape", () => {
  assert.deepEqual(asAutomations(A), A);
  for (const bad of [undefined, null, 3, {}, { services: [], tasks: {} }, { services: [{}], tasks: [] }])
    assert.equal(asAutomations(bad), undefined, JSON.stringify(bad));
});

it("supervise execs the bound supervisor as root inside, feeds stdin and caps its output", async () => {
  const calls: { req: ExecRequest; stdin: string }[] = [];
  const runner: RunnerExec = {
    async exec(_id: string, req: ExecRequest, h: ExecHandlers) {
      const call = { req, stdin: "" };
      calls.push(call);
      return {
        stdin: (d: Uint8Array) => {
          call.stdin += Buffer.from(d).toString();
        },
        endStdin: () => {
          h.stdout(Buffer.alloc(2 * 1024 * 1024, 0x61));
          h.stderr(Buffer.from("warren-supervise: no supervisor answers at /run/warren/supervise/sock\n"));
          h.exit(1);
        },
        resize: () => undefined,
        signal: () => undefined,
      };
    },
    logs: () => ({ done: Promise.resolve(), close: () => undefined }),
  };
  const r = await supervise(runner, "env1", ["up"], { stdin: "version 1\n" });
  // A helper: it keeps OOM score 0 while the services it starts get the user's +500.
  assert.deepEqual(calls[0]?.req, {
    cmd: ["/.warren/supervise", "up"],
    tty: false,
    user: "0",
    cwd: "/",
    helper: true,
  });
  assert.equal(calls[0]?.stdin, "version 1\n");
  assert.equal(r.stdout.length, 1024 * 1024, "stdout is capped");
  assert.equal(supervisorAbsent(r), true);
});
