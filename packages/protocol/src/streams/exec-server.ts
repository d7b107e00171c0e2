// The runner's side of an exec stream (framing: exec-frames.ts). Everything the control plane
// sends is checked: a bad frame resets this one stream and ends the command, never the link.
// Output flow control is HTTP/2's own: when the stream's window is full, write() says so and the
// command's output is paused until the control plane reads on.
import { constants } from "node:os";
import type { Duplex } from "node:stream";
import { WarrenError } from "../errors.ts";
import type { ExecRequest, ExecSession, RunnerApi } from "../runner.ts";
import { wireErrorBody } from "../runner-wire.ts";
import {
  ExecFrameError,
  encodeFrame,
  EXEC_FRAME as F,
  FrameReader,
  jsonPayload,
  parseJsonPayload,
  writeBytes,
} from "./exec-frames.ts";

/** How long the runner waits, after the command ended, for the control plane to end its side. */
const LINGER_MS = 30_000;

export function serveExecStream(
  api: Pick<RunnerApi, "exec">,
  stream: Duplex,
  problem: (m: string) => void,
): void {
  const v = import("../runner-validate.ts");
  const reader = new FrameReader();
  let session: ExecSession | undefined;
  let requested = false;
  let ended = false; // exit or error sent
  let paused = false;
  let hungUp = false; // the control plane went away before the command ended
  let linger: NodeJS.Timeout | undefined;

  const finish = (type: number, payload: Buffer) => {
    if (ended) return;
    ended = true;
    // After end() (the control plane hung up first) a write would error the stream, and an
    // errored HTTP/2 stream never sends its END_STREAM: it would hang until the linger reset.
    if (!stream.writableEnded) stream.write(encodeFrame(type, payload));
    // The control plane ends its side once it has read this; then this side ends (no reset).
    linger = setTimeout(() => stream.destroy(), LINGER_MS);
    linger.unref?.();
  };
  const fail = (err: unknown) => finish(F.error, jsonPayload(wireErrorBody(err)));
  const out = (type: number, d: Uint8Array) => {
    if (ended || stream.destroyed || stream.writableEnded) return;
    if (!writeBytes(stream, type, d) && !paused) {
      paused = true;
      session?.pause?.();
      stream.once("drain", () => {
        paused = false;
        session?.resume?.();
      });
    }
  };
  const breach = (message: string) => {
    problem(`exec stream: ${message}`);
    session?.signal("SIGKILL");
    stream.destroy(new ExecFrameError(message));
  };

  const start = async (payload: Buffer) => {
    const { checkWire } = await v;
    const { ExecStreamRequest } = await import("../runner-schema.ts");
    let id: string;
    let req: ExecRequest;
    try {
      [id, req] = checkWire(ExecStreamRequest, parseJsonPayload(payload, "exec request"), "exec request");
    } catch (err) {
      throw new WarrenError("INVALID_ARGUMENT", (err as Error).message);
    }
    const s = await api.exec(id, req, {
      stdout: (d) => out(F.stdout, d),
      stderr: (d) => out(F.stderr, d),
      exit: (code) => finish(F.exit, jsonPayload(code)),
      error: (err) => fail(err),
    });
    session = s;
    // The stream went while the command was starting: nothing will ever signal it otherwise.
    if (hungUp && !ended) s.signal("SIGHUP");
    if (paused) s.pause?.(); // the window filled before the session was known
    if (!ended && !stream.writableEnded) stream.write(encodeFrame(F.started));
  };

  const input = async (type: number, payload: Buffer) => {
    if (type === F.request) {
      if (requested) throw new ExecFrameError("a second exec request");
      requested = true;
      return start(payload).catch(fail);
    }
    if (!session) throw new ExecFrameError(`exec input (frame ${type}) before the command started`);
    if (ended) return; // late input after the command ended is dropped
    if (type === F.stdin) {
      // The process reads slower than input arrives: stop reading the stream, so HTTP/2's window
      // fills and the control plane's writes say wait, instead of input piling up here.
      if (session.stdin(payload) === false && session.whenStdinWritable) {
        stream.pause();
        await session.whenStdinWritable();
        stream.resume();
      }
    } else if (type === F.eof) session.endStdin();
    else if (type === F.resize) {
      const { checkWire } = await v;
      const { EXEC_INPUT } = await import("../runner-schema.ts");
      const r = checkWire(EXEC_INPUT.resize, parseJsonPayload(payload, "resize"), "resize");
      session.resize(r.cols, r.rows);
    } else if (type === F.signal) {
      const sig = payload.toString("latin1");
      if (!/^SIG[A-Z0-9]{2,10}$/.test(sig) || !Object.hasOwn(constants.signals, sig))
        throw new ExecFrameError("signal is not a known signal name");
      session.signal(sig as NodeJS.Signals);
    } else throw new ExecFrameError(`unknown exec frame type ${type}`);
  };

  // Input is applied in order, one frame at a time (a resize's validator loads asynchronously).
  let queue = Promise.resolve();
  stream.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk, (type, payload) => {
        const copy = Buffer.from(payload);
        // Once the stream is reset (a bad frame, or the peer's reset), what is still queued is dropped.
        queue = queue
          .then(() => (stream.destroyed ? undefined : input(type, copy)))
          .catch((err: unknown) => breach((err as Error).message));
      });
    } catch (err) {
      breach((err as Error).message);
    }
  });
  stream.once("end", () => {
    if (ended) {
      clearTimeout(linger);
      stream.end();
      return;
    }
    // The control plane went away before the command ended: as sshd does, SIGHUP.
    hungUp = true;
    session?.signal("SIGHUP");
    stream.end();
  });
  stream.once("close", () => {
    clearTimeout(linger);
    if (ended) return;
    hungUp = true;
    session?.signal("SIGHUP");
  });
  stream.on("error", () => {}); // its close follows
}
