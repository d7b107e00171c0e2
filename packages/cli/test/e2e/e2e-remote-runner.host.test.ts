// The control plane and a host's runner as separate processes: `warren server` (TLS, SQLite) and
// `warren runner` (the real engine) dialling in with a runner token over /api/runner/v1. A user
// drives it with the real CLI through a remote context. Killing the runner with SIGKILL and
// starting it again re-adopts the running environment.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness, REPO } from "@warren/testing/e2e-harness";
import { callJson, type ServerProcess, startServerProcess } from "@warren/testing/server-process";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");

describe("remote runner over TLS (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  let server: ServerProcess | undefined;
  let runner: ChildProcess | undefined;
  let tokenFile = "";
  let cliEnv: NodeJS.ProcessEnv = {};
  const runnerLog = () => readFileSync(path.join(h.root, "runner.log"), "utf8");

  async function startRunner(): Promise<void> {
    const s = server!;
    const log = openSync(path.join(h.root, "runner.log"), "a");
    const before = runnerLog()
      .split("\n")
      .filter((l) => l.includes("connected to the control plane")).length;
    runner = spawn(
      process.execPath,
      [MAIN, "runner", "--server", s.url, "--fingerprint", s.fingerprint, "--token-file", tokenFile],
      { env: h.env, stdio: ["ignore", log, log] },
    );
    const until = Date.now() + 30_000;
    while (
      runnerLog()
        .split("\n")
        .filter((l) => l.includes("connected to the control plane")).length <= before
    ) {
      assert.ok(Date.now() < until, `runner did not connect; log:\n${runnerLog().slice(-2000)}`);
      assert.equal(runner.exitCode, null, `runner exited; log:\n${runnerLog().slice(-2000)}`);
      await sleep(100);
    }
  }

  async function killRunner(signal: NodeJS.Signals): Promise<void> {
    const r = runner;
    if (!r || r.exitCode !== null || r.signalCode !== null) return;
    const exited = new Promise((res) => r.once("exit", res));
    r.kill(signal);
    await exited;
  }

  const cli = (args: string[]) => h.cli(args, { env: cliEnv });

  before(async () => {
    h = await makeHarness("remote");
    writeFileSync(path.join(h.root, "runner.log"), "");
    server = await startServerProcess({ db: path.join(h.root, "server"), root: path.join(h.root, "server") });
    // As root on the server's own socket, the way an operator would.
    const rt = h.cli(["admin", "runner-token", "create", "--name", "this-host", "--json"], {
      env: { WARREN_SOCKET: server.socket },
    });
    assert.equal(rt.status, 0, rt.stderr);
    const runnerToken = JSON.parse(rt.stdout).token as string;
    assert.match(runnerToken, /^wrn_r_/);
    tokenFile = path.join(h.root, "runner.token");
    writeFileSync(tokenFile, `${runnerToken}\n`, { mode: 0o600 });
    const user = await callJson(server.local, "POST", "/api/v1/tokens", { name: "e2e" });
    // The CLI talks to the server only through a saved remote context, never the host socket.
    cliEnv = { XDG_CONFIG_HOME: path.join(h.root, "config"), WARREN_CONTEXT: "remote" };
    const login = h.cli(
      ["login", server.url, "--fingerprint", server.fingerprint, "--token-stdin", "--name", "remote"],
      {
        input: (user.body as { token: string }).token,
        env: { XDG_CONFIG_HOME: cliEnv["XDG_CONFIG_HOME"] },
      },
    );
    assert.equal(login.status, 0, login.stderr);
    await startRunner();
  });

  after(async () => {
    try {
      if (runner && runner.exitCode === null) {
        cli(["rm", "-f", "far"]);
      }
    } finally {
      await killRunner("SIGTERM");
      await server?.stop();
      await h?.teardown();
    }
  });

  it("up and exec through the server reach the real runner", () => {
    const up = cli(["up", "--name", "far", "--memory", "256m", "--disk", "1g", "--", "id", "-u"]);
    assert.equal(up.status, 0, `${up.stderr}\n${runnerLog().slice(-2000)}`);
    assert.equal(up.stdout.trim(), "0");
    const ex = cli([
      "exec",
      "far",
      "--",
      "sh",
      "-c",
      "echo hi > /workspaces/far/f; cat /workspaces/far/f; exit 3",
    ]);
    assert.equal(ex.status, 3, ex.stderr);
    assert.equal(ex.stdout.trim(), "hi");
    const info = cli(["inspect", "far", "--json"]);
    assert.equal(info.status, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).state, "running");
  });

  it("a runner killed with SIGKILL comes back and re-adopts the running environment", async () => {
    const pidBefore = JSON.parse(cli(["inspect", "far", "--json"]).stdout).observed?.pid as number;
    assert.ok(pidBefore > 0);
    await killRunner("SIGKILL");
    // While it is gone the server says so instead of hanging.
    const gone = cli(["exec", "far", "--", "true"]);
    assert.notEqual(gone.status, 0);
    await startRunner();
    const ex = cli(["exec", "far", "--", "cat", "/workspaces/far/f"]);
    assert.equal(ex.status, 0, ex.stderr);
    assert.equal(ex.stdout.trim(), "hi");
    const pidAfter = JSON.parse(cli(["inspect", "far", "--json"]).stdout).observed?.pid as number;
    assert.equal(pidAfter, pidBefore, "the same init: re-adopted, not restarted");
  });

  it("rm through the server leaves nothing on the host", () => {
    const rm = cli(["rm", "-f", "far"]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.deepEqual(h.leftovers(), []);
  });
});
