// OciCliRuntime.state() answers "running" without starting the runtime only while the container's
// init is the same live process. The runtime here is a stand-in script at the process boundary
// (it logs each call and reports a real child process of this test as the container's init).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { OciCliRuntime } from "../src/runtime/oci-cli.ts";
import { procStart, RunningStates } from "../src/runtime/running-state.ts";

function sleeper(): Promise<ChildProcess> {
  const c = spawn("sleep", ["60"], { stdio: "ignore" });
  return new Promise((resolve, reject) => {
    c.once("spawn", () => resolve(c));
    c.once("error", reject);
  });
}

function killed(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

describe("procStart", () => {
  it("reads this process's start time and state, and nothing for a pid that does not exist", async () => {
    const me = await procStart(process.pid);
    assert.match(me?.startTime ?? "", /^\d+$/);
    assert.match(me?.state ?? "", /^[RS]$/); // reading the file may find it waiting on the read
    assert.equal(await procStart(2 ** 22 + 1), null);
  });

  it("counts fields after the command name, which may hold spaces and parentheses", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "warren-proc-"));
    try {
      mkdirSync(path.join(root, "42"));
      const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
      fields[0] = "S";
      writeFileSync(path.join(root, "42/stat"), `42 (a) b (c)) ${fields.join(" ")}\n`);
      assert.deepEqual(await procStart(42, root), { state: "S", startTime: "22" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("RunningStates", () => {
  it("keeps a running state while its init lives, and forgets it when the init dies", async () => {
    const init = await sleeper();
    const states = new RunningStates();
    const st = { id: "c1", status: "running" as const, pid: init.pid!, bundle: "/b" };
    await states.remember(st);
    assert.deepEqual(await states.running("c1"), st);
    await killed(init);
    assert.equal(await states.running("c1"), undefined);
  });

  it("keeps no state but running, and none with a pid that is not alive", async () => {
    const states = new RunningStates();
    await states.remember({ id: "c1", status: "created", pid: process.pid, bundle: "/b" });
    await states.remember({ id: "c2", status: "running", pid: 2 ** 22 + 1, bundle: "/b" });
    await states.remember({ id: "c3", status: "running", pid: 0, bundle: "/b" });
    for (const id of ["c1", "c2", "c3"]) assert.equal(await states.running(id), undefined, id);
  });
});

describe("OciCliRuntime.state with runningWhileInitLives", () => {
  let dir: string;
  let init: ChildProcess;
  const calls = () => readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean);
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "warren-oci-state-"));
    init = await sleeper();
    mkdirSync(path.join(dir, "state/c1"), { recursive: true });
    writeFileSync(path.join(dir, "calls"), "");
    // `runtime --root R state ID`: logs the call; "running" with the init's pid until the stop file exists.
    const script = path.join(dir, "runtime");
    writeFileSync(
      script,
      `#!/bin/sh\necho "$*" >> ${dir}/calls\n` +
        `if [ -e ${dir}/stopped ]; then s=stopped; else s=running; fi\n` +
        `printf '{"id":"c1","pid":${init.pid},"status":"%s","bundle":"/b"}' "$s"\n`,
    );
    chmodSync(script, 0o755);
  });
  after(async () => {
    if (init.exitCode === null && init.signalCode === null) await killed(init);
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks the runtime once while the init lives, and again once it died", async () => {
    const rt = new OciCliRuntime({
      name: "fake",
      binary: path.join(dir, "runtime"),
      stateRoot: path.join(dir, "state"),
      runningWhileInitLives: true,
    });
    const want = { id: "c1", status: "running", pid: init.pid, bundle: "/b" };
    assert.deepEqual(await rt.state("c1"), want);
    assert.deepEqual(await rt.state("c1"), want);
    assert.equal(calls().length, 1);
    writeFileSync(path.join(dir, "stopped"), "");
    await killed(init);
    assert.deepEqual(await rt.state("c1"), { id: "c1", status: "stopped", pid: 0, bundle: "/b" });
    assert.equal(calls().length, 2);
    // A state directory that is gone means no container, whatever was remembered.
    rmSync(path.join(dir, "state/c1"), { recursive: true });
    assert.equal(await rt.state("c1"), null);
  });

  it("asks the runtime every time without the option", async () => {
    writeFileSync(path.join(dir, "calls"), "");
    mkdirSync(path.join(dir, "state/c1"), { recursive: true });
    const rt = new OciCliRuntime({
      name: "fake",
      binary: path.join(dir, "runtime"),
      stateRoot: path.join(dir, "state"),
    });
    await rt.state("c1");
    await rt.state("c1");
    assert.equal(calls().length, 2);
  });
});
