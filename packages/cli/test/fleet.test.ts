// `warren fleet` and what the fleet adds to `ls` and `inspect`: the pure rendering, then the real
// CLI against the fake daemon (what it asks for, that --json prints the API's object unchanged,
// how a refusal reads).
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import type { FleetActionResult, FleetList, FleetRunner } from "@warren/protocol";
import { fleetActionText } from "../src/commands/fleet-cordon.ts";
import { fleetTable } from "../src/commands/fleet-ls.ts";
import { describeEnv } from "../src/commands/inspect.ts";
import { envTable } from "../src/format.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

const GiB = 1024 ** 3;
const NOW = Date.parse("2026-03-01T12:00:00Z");

const runner = (name: string, over: Partial<FleetRunner> = {}): FleetRunner => ({
  id: `rt_${name}`,
  name,
  state: "ready",
  schedule: "active",
  labels: {},
  hostname: `${name}.example`,
  runtimes: ["runc"],
  capacity: { cpus: 8, memoryBytes: 16 * GiB, diskBytes: 300 * GiB, slots: 64 },
  allocated: { cpus: 3, memoryBytes: 6 * GiB, diskBytes: 20 * GiB, slots: 2 },
  used: null,
  environments: { total: 2, running: 1 },
  lastHeartbeat: "2026-03-01T11:59:50Z",
  unreachableSince: null,
  unschedulable: null,
  ...over,
});

const fleet: FleetList = {
  items: [
    runner("r1", {
      labels: { zone: "a", gpu: "none" },
      used: { cpuEwmaCores: 1.254, memoryWorkingSetBytes: 3 * GiB, memoryAvailableBytes: 13 * GiB },
    }),
    runner("r2", {
      state: "unreachable",
      unreachableSince: "2026-03-01T11:55:00Z",
      lastHeartbeat: "2026-03-01T11:54:00Z",
      unschedulable: "disk free 2GiB is below the reserve",
    }),
  ],
  autoscaler: [
    { pool: "default", desired: 3, decision: "scale up: 2 creates unplaced", at: "2026-03-01T11:58:00Z" },
  ],
};

const unreachableEnv = makeEnv("web", {
  runner: { id: "rt_r2", name: "r2" },
  placement: "placed on r2: most free memory, image cached",
  conditions: [
    {
      type: "RunnerUnreachable",
      status: "True",
      reason: "Disconnected",
      message: "runner r2 has not been seen for 60s",
      at: "2026-03-01T11:55:00Z",
    },
  ],
});

describe("fleet output", () => {
  it("a row per runner: allocated/capacity with live use, labels, environments, heartbeat; notes below", () => {
    const lines = fleetTable(fleet, NOW).split("\n");
    assert.match(lines[0]!, /^NAME +STATE +LABELS +CPU +MEMORY +DISK +ENVS +HEARTBEAT$/);
    assert.match(
      lines[1]!,
      /^r1 +ready +zone=a,gpu=none +3\/8, 1\.25 used +6Gi\/16Gi, 3Gi used +20Gi\/300Gi +2 \(1 running\) +10s ago$/,
    );
    assert.match(lines[2]!, /^r2 +unreachable +- +3\/8 +6Gi\/16Gi +20Gi\/300Gi +2 \(1 running\) +6m ago$/);
    assert.equal(lines[3], "");
    assert.equal(
      lines[4],
      "r2: unreachable since 2026-03-01T11:55:00Z (5m ago); its environments keep their last state",
    );
    assert.equal(lines[5], "r2: takes no new environments: disk free 2GiB is below the reserve");
    assert.equal(lines[6], "autoscaler (default): desired 3; scale up: 2 creates unplaced (2m ago)");
    assert.match(fleetTable({ items: [], autoscaler: [] }), /^no runners; connect one with `warren runner/);
  });

  it("a drain lists what it stopped and what is still stopping", () => {
    const r: FleetActionResult = {
      runner: runner("r1", { state: "draining", schedule: "draining" }),
      stopping: [
        { name: "a", state: "stopped" },
        { name: "b", state: "running" },
      ],
    };
    assert.equal(
      fleetActionText("drain", r),
      "runner r1 draining; it takes no new environments (state: draining)\n  a: stopped\n  b: stopping (running)\n",
    );
    assert.equal(
      fleetActionText("cordon", { runner: runner("r1", { state: "cordoned" }), stopping: [] }),
      "runner r1 cordoned; it takes no new environments, its environments keep running (state: cordoned)\n",
    );
  });

  it("ls marks an environment whose runner is unreachable, with a footnote; others are unchanged", () => {
    const plain = makeEnv("api");
    const out = envTable([plain, unreachableEnv], NOW).split("\n");
    assert.match(out[1]!, /^api +running +default/);
    assert.match(out[2]!, /^web +running\? +default/);
    assert.equal(out[3], "? web: runner r2 unreachable since 5m ago; last observed state shown");
    assert.equal(envTable([plain], NOW).split("\n").length, 3, "no footnote without the condition");
  });

  it("inspect names the runner and the placement, and the condition's since-when", () => {
    const text = describeEnv(unreachableEnv, NOW);
    assert.match(text, /\nRunner: +r2 \(rt_r2\)\n/);
    assert.match(text, /\nPlacement: +placed on r2: most free memory, image cached\n/);
    assert.match(
      text,
      /\n {2}RunnerUnreachable=True Disconnected: runner r2 has not been seen for 60s \(since 2026-03-01T11:55:00Z \(5m ago\)\)\n/,
    );
    const same = describeEnv(makeEnv("x", { runner: { id: "local", name: "local" } }), NOW);
    assert.match(same, /\nRunner: +local\n/);
    assert.doesNotMatch(
      describeEnv(makeEnv("y"), NOW),
      /Runner:|Placement:/,
      "an older server sends neither",
    );
  });
});

describe("the CLI", () => {
  let d: FakeDaemon;
  const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
  before(async () => {
    d = await startFakeDaemon();
  });
  after(() => d.close());
  beforeEach(() => d.reset());
  const reply = (status: number, value: unknown) => (_b: string, res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };

  it("fleet ls --json prints the API's list unchanged; the table without it", async () => {
    d.override.set("GET /api/v1/fleet/runners", reply(200, fleet));
    const j = await cli(["fleet", "ls", "--json"]);
    assert.equal(j.status, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout), fleet);
    const t = await cli(["fleet", "ls"]);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^NAME +STATE/);
    assert.match(t.stdout, /\nr2 +unreachable /);
  });

  it("fleet drain NAME posts to the runner's drain and prints the result; --json the object", async () => {
    const result: FleetActionResult = {
      runner: runner("host-2", { state: "draining", schedule: "draining" }),
      stopping: [{ name: "a", state: "stopped" }],
    };
    d.override.set("POST /api/v1/fleet/runners/host-2/drain", reply(200, result));
    const r = await cli(["fleet", "drain", "host-2", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), result);
    const asked = d.requests.filter((q) => q.url.startsWith("/api/v1/fleet/"));
    assert.deepEqual(
      asked.map((q) => `${q.method} ${q.url}`),
      ["POST /api/v1/fleet/runners/host-2/drain"],
    );
    const text = await cli(["fleet", "drain", "host-2"]);
    assert.equal(text.stdout, fleetActionText("drain", result));
  });

  it("an unknown runner is a user error naming `warren fleet ls`", async () => {
    d.override.set(
      "POST /api/v1/fleet/runners/nope/cordon",
      reply(404, {
        code: "RUNNER_NOT_FOUND",
        message: 'runner "nope" does not exist in your organisation; see `warren fleet ls` for its runners',
      }),
    );
    const r = await cli(["fleet", "cordon", "nope"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /runner "nope" does not exist in your organisation; see `warren fleet ls`/);
  });

  it("ls --json keeps the environment object as the API sent it, runner and condition included", async () => {
    d.envs.set("web", unreachableEnv);
    const r = await cli(["ls", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [unreachableEnv]);
  });
});
