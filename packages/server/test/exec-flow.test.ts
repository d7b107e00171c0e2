// Exec output flow control (protocol flow-control.ts): a client that stops reading pauses the
// command's output instead of letting the daemon (and, with a remote runner, the runner too)
// buffer it all; reading again resumes it and every byte arrives.
import assert from "node:assert/strict";
import path from "node:path";
import { afterEach, test } from "node:test";
import { Channel, connectRunner, parseFrame } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import WebSocket from "ws";
import { type Daemon, runDaemon } from "../src/daemon.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOTAL = 32 * 1024 * 1024;

async function daemon(runner?: FakeRunner): Promise<Daemon> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    ...(runner ? { runner } : { listen: "127.0.0.1:0" }),
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
  });
  cleanups.push(() => d.close());
  return d;
}

async function floodWithStalledClient(d: Daemon, runner: FakeRunner): Promise<void> {
  assert.equal(
    (await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } }))
      .statusCode,
    201,
  );
  const qs = new URLSearchParams({ cmd: JSON.stringify(["flood", String(TOTAL)]) });
  const ws = new WebSocket(`ws+unix://${d.socketPath}:/api/v1/environments/dev/exec?${qs}`);
  let received = 0;
  const control: unknown[] = [];
  ws.on("message", (b: Buffer) => {
    const { channel, data } = parseFrame(b);
    if (channel === Channel.stdout) received += data.length;
    else if (channel === Channel.control) control.push(JSON.parse(data.toString()));
  });
  const closed = new Promise((r) => ws.on("close", r));
  await new Promise((r) => ws.once("open", r));
  // The client stops reading: its socket is paused, so the kernel buffers fill and then the daemon's.
  const raw = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  raw.pause();
  const until = Date.now() + 10_000;
  while (runner.execPauses === 0) {
    assert.ok(Date.now() < until, `output never paused (${runner.execBytesOut} bytes written)`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200));
  const atPause = runner.execBytesOut;
  assert.ok(atPause < TOTAL / 2, `paused after ${atPause} of ${TOTAL} bytes, not after buffering it all`);
  raw.resume();
  await closed;
  assert.equal(received, TOTAL, "every byte arrived after resuming");
  assert.deepEqual(control, [{ type: "exit", code: 0 }]);
}

test("a client that stops reading pauses the command (embedded runner)", async () => {
  const runner = new FakeRunner();
  await floodWithStalledClient(await daemon(runner), runner);
});

test("the pause crosses the runner protocol to a remote runner", async () => {
  const d = await daemon();
  const token = await d.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "r" },
  });
  const runner = new FakeRunner();
  const conn = await connectRunner(
    { url: `https://127.0.0.1:${d.tls!.port}`, fingerprint: d.tls!.fingerprint, token: token.json().token },
    runner,
  );
  cleanups.push(() => conn.close());
  await conn.ready;
  await floodWithStalledClient(d, runner);
});
