// Flow control of exec streams over a real runner link (HTTP/2 in a WebSocket on loopback), both
// ways: a command that reads its stdin slowly holds up the sender instead of input piling up on
// the runner, and a reader that stops reading output pauses the command instead of output piling
// up on the control plane. Bytes arrive unchanged and in order either way.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startLoopback } from "@warren/testing/streams-loopback";
import { WarrenError } from "../src/errors.ts";
import type { ExecHandlers, ExecSession, RunnerApi } from "../src/runner.ts";
import { execOverStream } from "../src/streams/exec-client.ts";
import { MAX_EXEC_PAYLOAD } from "../src/streams/exec-frames.ts";
import { serveExecStream } from "../src/streams/exec-server.ts";
import { STREAM_WINDOW } from "../src/streams/stream-settings.ts";

const MiB = 1024 * 1024;
const ENV = "envflow00001";
const closers: (() => Promise<void>)[] = [];
const gone = () => new WarrenError("RUNNER_UNAVAILABLE", "the link closed");
after(async () => {
  for (const c of closers) await c();
});

/** A command whose stdin pipe holds 64 KiB and that reads it slowly; counts what waits for it. */
function slowReader() {
  const PIPE = 64 * 1024;
  const got = createHash("sha256");
  let inPipe = 0;
  let total = 0;
  let peak = 0;
  const waiters: (() => void)[] = [];
  let h!: ExecHandlers;
  const drain = setInterval(() => {
    inPipe = Math.max(0, inPipe - 32 * 1024);
    if (inPipe < PIPE) for (const w of waiters.splice(0)) w();
  }, 2);
  const session: ExecSession = {
    stdin: (d) => {
      got.update(d);
      inPipe += d.length;
      total += d.length;
      peak = Math.max(peak, inPipe);
      return inPipe < PIPE;
    },
    whenStdinWritable: () => (inPipe < PIPE ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    endStdin: () => {
      clearInterval(drain);
      h.exit(0);
    },
    resize: () => {},
    signal: () => {},
  };
  const api: Pick<RunnerApi, "exec"> = {
    exec: async (id, _req, handlers) => {
      if (id !== ENV) throw new WarrenError("ENV_NOT_FOUND", "no such env");
      h = handlers;
      return session;
    },
  };
  return { api, stats: () => ({ total, peak, sha: got.digest("hex") }) };
}

test("a command that reads stdin slowly holds up the sender: the runner never buffers past a pipe and one frame", async () => {
  const cmd = slowReader();
  const lb = await startLoopback({ exec: (_m, s) => serveExecStream(cmd.api, s, () => {}) });
  closers.push(() => lb.close());
  const exited = new Promise<number>((resolve) => {
    void lb.client.openStream("exec").then((stream) =>
      execOverStream(
        stream,
        ENV,
        { cmd: ["cat"], tty: false },
        {
          stdout: () => true,
          stderr: () => true,
          exit: resolve,
        },
        gone,
      ).then(async (session) => {
        const sent = createHash("sha256");
        let waited = 0;
        for (let i = 0; i < 128; i++) {
          const chunk = randomBytes(64 * 1024);
          sent.update(chunk);
          if (session.stdin(chunk) === false) {
            waited++;
            await session.whenStdinWritable?.();
          }
        }
        expected = sent.digest("hex");
        senderWaited = waited;
        session.endStdin();
      }),
    );
  });
  let expected = "";
  let senderWaited = 0;
  assert.equal(await exited, 0);
  const s = cmd.stats();
  assert.equal(s.total, 8 * MiB);
  assert.equal(s.sha, expected, "stdin arrived unchanged and in order");
  assert.ok(senderWaited > 0, "the sender was told to wait");
  // The stub pipe holds 64 KiB; at most one frame more is handed to it before reading stops.
  assert.ok(s.peak <= 64 * 1024 + MAX_EXEC_PAYLOAD, `the runner held ${s.peak} bytes for the command`);
});

test("a reader that stops reading output pauses the command: the control plane holds about a window, not the output", async () => {
  let paused = 0;
  let produced = 0;
  let h!: ExecHandlers;
  let running = true;
  const api: Pick<RunnerApi, "exec"> = {
    exec: async (_id, _req, handlers) => {
      h = handlers;
      let stopped = false;
      const pump = () => {
        while (running && !stopped && produced < 64 * MiB) {
          h.stdout(Buffer.alloc(64 * 1024, 7));
          produced += 64 * 1024;
          // The stub "process" yields now and then, as a pipe read would.
          if (produced % MiB === 0) return void setImmediate(pump);
        }
      };
      setImmediate(pump);
      return {
        stdin: () => true,
        endStdin: () => {},
        resize: () => {},
        signal: () => {
          running = false;
          h.exit(143);
        },
        pause: () => {
          paused++;
          stopped = true;
        },
        resume: () => {
          stopped = false;
          setImmediate(pump);
        },
      };
    },
  };
  const lb = await startLoopback({ exec: (_m, s) => serveExecStream(api, s, () => {}) });
  closers.push(() => lb.close());
  let received = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const stream = await lb.client.openStream("exec");
  const session = await execOverStream(
    stream,
    ENV,
    { cmd: ["yes"], tty: false },
    {
      stdout: (d) => {
        received += d.length;
        return false; // the client is full from the first chunk on
      },
      stderr: () => true,
      whenWritable: () => gate,
      exit: () => {},
    },
    gone,
  );
  await sleep(300);
  assert.ok(paused > 0, "the command was paused");
  // What left the command but not the control plane: the link's windows and a frame or two.
  const inFlight = produced - received;
  assert.ok(produced < 16 * MiB, `the command kept writing (${produced} bytes) while nobody read`);
  assert.ok(inFlight <= STREAM_WINDOW * 4 + 2 * MAX_EXEC_PAYLOAD, `${inFlight} bytes in flight`);
  release();
  await sleep(100);
  assert.ok(received > 0);
  session.signal("SIGTERM");
});
