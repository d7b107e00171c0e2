// Sizes no environment can run with are refused before anything is made, with the limits in the
// message: by `up` (before the base image is built or a request sent), and by the daemon for
// create, `set` and `class create`, so a bad value leaves no row, no class and no runner call.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, WarrenError } from "@warren/protocol";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { ROOT } from "@warren/testing/server-harness";
import { runCli } from "./fake-daemon.ts";

let d: InprocDaemon;
before(async () => {
  d = await startInprocDaemon();
  await d.h.envs.create(ROOT, { name: "dev" });
});
after(() => d?.close());

const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
const envNames = async () => (await d.h.envs.list(ROOT)).map((e) => e.name).sort();
const classNames = async () => (await d.h.classes.list(ROOT)).map((c) => c.name).sort();

const refused = async (call: Promise<unknown>, message: RegExp) =>
  assert.rejects(call, (err: WarrenError) => {
    assert.ok(err instanceof WarrenError, String(err));
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.match(err.message, message);
    return true;
  });

describe("resource limits", () => {
  it("up refuses too little memory or disk, naming the limits, and makes nothing", async () => {
    const starts = d.h.runner.callsOf("ensureRunning").length;
    for (const [flag, value, limits] of [
      ["--memory", "1k", /--memory 1Ki is below the minimum of 32Mi.*ask for 32Mi to 16Ti/],
      ["--disk", "1m", /--disk 1Mi is below the minimum of 16Mi.*ask for 16Mi to 16Ti/],
    ] as const) {
      const r = await cli(["up", "--name", "small", flag, value, "--detach"]);
      assert.equal(r.status, 1, `${flag} ${value}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, limits);
      assert.doesNotMatch(r.stderr, /INVALID_ARGUMENT|reconcile|internal/);
    }
    assert.deepEqual(await envNames(), ["dev"]);
    assert.equal(d.h.runner.callsOf("ensureRunning").length, starts, "the runner was never asked");
  });

  it("the daemon refuses a create past any limit before a row exists", async () => {
    const client = createClient({ socketPath: d.socket });
    for (const [req, message] of [
      [{ memory: "1k" }, /memory 1Ki is below the minimum of 32Mi/],
      [{ memory: "20t" }, /memory 20Ti is above the maximum of 16Ti/],
      [{ disk: "1m" }, /disk 1Mi is below the minimum of 16Mi/],
      [{ cpus: 0.001 }, /cpus 0\.001 is below the minimum of 0\.01/],
      [{ cpus: 2000 }, /cpus 2000 is above the maximum of 1024/],
    ] as const) {
      await refused(client.createEnvironment({ name: "direct", ...req }), message);
    }
    assert.deepEqual(await envNames(), ["dev"]);
  });

  it("the smallest sizes allowed are accepted", async () => {
    const r = await cli([
      "up",
      "--name",
      "floor",
      "--memory",
      "32m",
      "--disk",
      "16m",
      "--cpus",
      "0.01",
      "--detach",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await envNames(), ["dev", "floor"]);
  });

  it("set refuses them and changes nothing", async () => {
    const beforeSet = (await d.h.envs.get(ROOT, "dev")).spec.resources;
    const r = await cli(["set", "dev", "--memory", "1k"]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /memory 1Ki is below the minimum of 32Mi/);
    const client = createClient({ socketPath: d.socket });
    await refused(client.setEnvironment("dev", { pids: 10 }), /pids 10 is below the minimum of 128/);
    await refused(client.setEnvironment("dev", { cpus: 0.001 }), /cpus 0\.001 is below the minimum of 0\.01/);
    assert.deepEqual((await d.h.envs.get(ROOT, "dev")).spec.resources, beforeSet);
  });

  it("class create refuses them and stores no class", async () => {
    const r = await cli(["class", "create", "tiny", "--cpus", "1", "--memory", "1k", "--disk", "1g"]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /memory 1Ki is below the minimum of 32Mi/);
    const client = createClient({ socketPath: d.socket });
    const base = { name: "tiny", cpus: 1, memory: "256m", disk: "1g" };
    for (const [extra, message] of [
      [{ disk: "1m" }, /disk 1Mi is below the minimum of 16Mi/],
      [{ pids: 8 }, /pids 8 is below the minimum of 128/],
      [{ maxMemory: "100t" }, /max memory 100Ti is above the maximum of 16Ti/],
      [{ maxCpus: 5000 }, /max cpus 5000 is above the maximum of 1024/],
    ] as const) {
      await refused(client.createClass({ ...base, ...extra }), message);
    }
    assert.deepEqual(await classNames(), ["default"]);
  });

  it("class rm of a built-in class says so, not that it is in use", async () => {
    const r = await cli(["class", "rm", "default"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /class "default" is built in and cannot be removed/);
  });
});
