import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { afterEach, test } from "node:test";
import { Channel, type ControlMessage, controlFrame, frame, parseFrame } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import WebSocket from "ws";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { execWs } from "./exec-ws-client.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(
  root: string,
  runner: FakeRunner,
  socketPath = path.join(root, "run", "warren.sock"),
): Promise<Daemon> {
  const d = await runDaemon({
    socketPath,
    root,
    runner,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
  });
  cleanups.push(() => d.close());
  return d;
}

test("exec over a real WebSocket on the unix socket passes the exit code through", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const d = await start(tmp.dir, new FakeRunner());
  const st = statSync(d.socketPath);
  assert.equal(st.mode & 0o777, 0o600, "socket is 0600");
  assert.equal(statSync(path.dirname(d.socketPath)).mode & 0o777, 0o700, "its directory is 0700");

  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201);

  const echo = await execWs(d.socketPath, "dev", ["echo", "hello", "world"]).done;
  assert.equal(echo.stdout, "hello world\n");
  assert.deepEqual(echo.control, [{ type: "exit", code: 0 }]);

  const exit3 = await execWs(d.socketPath, "dev", ["exit", "3"]).done;
  assert.deepEqual(exit3.control, [{ type: "exit", code: 3 }]);

  const warn = await execWs(d.socketPath, "dev", ["warn", "oops"]).done;
  assert.equal(warn.stderr, "oops\n");
  assert.deepEqual(warn.control, [{ type: "exit", code: 1 }]);

  // stdin, resize and eof from the client, sent right after open (before the session exists).
  const cat = await execWs(d.socketPath, "dev", ["cat"], {
    tty: true,
    send: [
      frame(Channel.stdin, "ping\n"),
      controlFrame({ type: "resize", cols: 100, rows: 30 }),
      controlFrame({ type: "eof" }),
    ],
  }).done;
  assert.equal(cat.stdout, "ping\nresize 100x30\n");
  assert.deepEqual(cat.control, [{ type: "exit", code: 0 }]);

  const sig = await execWs(d.socketPath, "dev", ["sleep"], {
    send: [controlFrame({ type: "signal", signal: "SIGTERM" })],
  }).done;
  assert.deepEqual(sig.control, [{ type: "exit", code: 143 }]);
});

test("exec failures arrive as an error frame: unknown env, bad cmd; a stopped env is woken first", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const d = await start(tmp.dir, new FakeRunner());
  await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  await d.app.inject({ method: "POST", url: "/api/v1/environments/dev/stop", payload: { graceSeconds: 0 } });

  // A stopped environment is started and waited for; the client is told while it waits.
  const woken = await execWs(d.socketPath, "dev", ["echo"]).done;
  assert.equal(woken.control[0]?.type, "notice");
  assert.match((woken.control[0] as { message: string }).message, /starting dev/);
  assert.equal(woken.control.at(-1)?.type, "exit");

  const missing = await execWs(d.socketPath, "ghost", ["echo"]).done;
  assert.equal((missing.control[0] as { code: string }).code, "ENV_NOT_FOUND");

  const ws = new WebSocket(`ws+unix://${d.socketPath}:/api/v1/environments/dev/exec?cmd=notjson`);
  const msgs: ControlMessage[] = [];
  ws.on("message", (b: Buffer) => msgs.push(JSON.parse(parseFrame(b).data.toString())));
  await new Promise((r) => ws.on("close", r));
  assert.equal((msgs[0] as { code: string }).code, "INVALID_ARGUMENT");
  assert.match((msgs[0] as { message: string }).message, /cmd/);
});

test("a client hanging up kills the exec'd command", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const runner = new FakeRunner();
  const d = await start(tmp.dir, runner);
  await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  const { ws } = execWs(d.socketPath, "dev", ["sleep"]);
  await new Promise((r) => ws.on("open", r));
  while (runner.callsOf("exec").length === 0) await new Promise((r) => setTimeout(r, 5));
  ws.terminate();
  for (let i = 0; i < 50 && runner.execSignals.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(runner.execSignals, ["SIGKILL"], "a non-tty command is killed");
});

test("logs follow streams until the client disconnects", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const runner = new FakeRunner();
  const d = await start(tmp.dir, runner);
  await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  let closed = false;
  const origLogs = runner.logs.bind(runner);
  runner.logs = (id, opts, onData) => {
    const s = origLogs(id, opts, onData);
    const close = () => {
      closed = true;
      s.close();
    };
    return { done: s.done, close };
  };
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      { socketPath: d.socketPath, path: "/api/v1/environments/dev/logs?follow=1" },
      (res) => {
        res.setEncoding("utf8");
        res.once("data", (chunk: string) => {
          req.destroy();
          resolve(chunk);
        });
      },
    );
    req.on("error", (e) => (closed ? undefined : reject(e)));
    req.end();
  });
  assert.match(body, /\[warren\] created/);
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(closed, true, "the runner's log stream was closed");
});

test("restart: a second daemon on the same db sweeps with the known ids and re-enqueues rows", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const runner = new FakeRunner();
  const first = await start(tmp.dir, runner);
  const a = (
    await first.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "a" } })
  ).json();
  const b = (
    await first.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "b" } })
  ).json();
  await first.app.inject({
    method: "POST",
    url: "/api/v1/environments/b/stop",
    payload: { graceSeconds: 0 },
  });
  await first.close();

  // While the daemon was down: the host rebooted (env a is gone), and a half-made env of an
  // id without a row was left behind.
  runner.envs.delete(a.id);
  runner.leftovers.add("orphan000000");
  const sweepsBefore = runner.sweeps.length;

  const second = await start(tmp.dir, runner, first.socketPath);
  assert.deepEqual([...(runner.sweeps[sweepsBefore] ?? [])].sort(), [a.id, b.id].sort());
  assert.equal(runner.leftovers.has("orphan000000"), false);
  await second.controller.idle();
  assert.equal(runner.envs.get(a.id)?.state, "running", "a was re-enqueued and brought back");
  assert.equal(runner.envs.get(b.id)?.state, "stopped", "b stays stopped");
  const got = await second.app.inject({ method: "GET", url: "/api/v1/environments/a" });
  assert.equal(got.json().state, "running");
});

test("a live daemon's socket is not stolen", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const d = await start(tmp.dir, new FakeRunner());
  await assert.rejects(
    runDaemon({
      socketPath: d.socketPath,
      root: path.join(tmp.dir, "other"),
      runner: new FakeRunner(),
      defaultRuntime: "runc",
      logger: false,
      handleSignals: false,
    }),
    /already listening/,
  );
});
