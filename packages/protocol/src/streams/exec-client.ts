// The control plane's side of an exec stream (framing: exec-frames.ts): an ExecSession over one
// HTTP/2 stream of the runner link. Output reaches the handlers as raw bytes; when a handler
// says its reader is full (stdout/stderr returned false), this stream stops reading, HTTP/2's
// window fills, and the runner pauses the command.
import type { Duplex } from "node:stream";
import { WarrenError } from "../errors.ts";
import type { ExecHandlers, ExecRequest, ExecSession } from "../runner.ts";
import {
  ExecFrameError,
  encodeFrame,
  EXEC_FRAME as F,
  FrameReader,
  jsonPayload,
  parseJsonPayload,
  writeBytes,
} from "./exec-frames.ts";

export async function execOverStream(
  stream: Duplex,
  envId: string,
  req: ExecRequest,
  h: ExecHandlers,
  gone: () => WarrenError,
): Promise<ExecSession> {
  const { checkWire, errorFromWire } = await import("../runner-validate.ts");
  const { EXEC_END } = await import("../runner-schema.ts");
  const reader = new FrameReader();
  let started = false;
  let ended = false;
  return new Promise<ExecSession>((resolve, reject) => {
    const end = () => {
      ended = true;
      stream.end(); // the runner ends its side after this: no reset cuts output in flight
    };
    const broke = (err: Error) => {
      if (ended) return;
      ended = true;
      stream.destroy();
      if (!started) reject(err);
      else if (h.error) h.error(err);
      else h.exit(125);
    };
    const session: ExecSession = {
      stdin: (d) => (ended ? undefined : writeBytes(stream, F.stdin, d)),
      whenStdinWritable: () =>
        stream.writableNeedDrain && !ended
          ? new Promise<void>((resolve) => {
              stream.once("drain", () => resolve());
              stream.once("close", () => resolve());
            })
          : Promise.resolve(),
      endStdin: () => !ended && stream.write(encodeFrame(F.eof)),
      resize: (cols, rows) => !ended && stream.write(encodeFrame(F.resize, jsonPayload({ cols, rows }))),
      signal: (sig) => !ended && stream.write(encodeFrame(F.signal, Buffer.from(sig, "latin1"))),
      pause: () => stream.pause(),
      resume: () => stream.resume(),
    };
    const output = (write: (d: Uint8Array) => unknown, d: Buffer) => {
      if (write(d) === false && h.whenWritable) {
        stream.pause();
        h.whenWritable().then(
          () => stream.resume(),
          () => stream.resume(),
        );
      }
    };
    const frame = (type: number, payload: Buffer) => {
      if (ended) return;
      if (type === F.error) {
        const err = errorFromWire(parseJsonPayload(payload, "exec error"));
        ended = true;
        stream.end();
        if (!started) reject(err);
        else if (h.error) h.error(err);
        else h.exit(125);
        return;
      }
      if (!started) {
        if (type !== F.started) throw new ExecFrameError(`exec frame ${type} before the command started`);
        started = true;
        resolve(session);
        return;
      }
      if (type === F.stdout) output((d) => h.stdout(d), Buffer.from(payload));
      else if (type === F.stderr) output((d) => h.stderr(d), Buffer.from(payload));
      else if (type === F.exit) {
        const code = checkWire(EXEC_END.exit, parseJsonPayload(payload, "exit status"), "exit status");
        end();
        h.exit(code);
      } else throw new ExecFrameError(`unexpected exec frame type ${type}`);
    };
    stream.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk, frame);
      } catch (err) {
        broke(new WarrenError("INTERNAL", `the runner broke the exec stream: ${(err as Error).message}`));
      }
    });
    stream.once("close", () => broke(gone()));
    // A runner that ends its side with neither exit status nor error would leave this waiting.
    stream.once("end", () =>
      broke(new WarrenError("INTERNAL", "the runner ended the exec stream without an exit status")),
    );
    stream.on("error", () => {}); // its close follows
    stream.write(encodeFrame(F.request, jsonPayload([envId, req])));
  });
}
