// A process inside an environment (started through the target's exec, exactly as `warren exec`
// starts one) seen as a Node Duplex: its stdout is the readable side, its stdin the writable side.
// The SSH gateway pipes these into ssh2 channels for sftp, unix-socket forwarding and the agent.
//
// Output backpressure: when the Duplex's reader stops reading (a full SSH window), the exec
// session is paused, which pauses the process's stdout pipe on the runner, so the process blocks
// on write instead of anything buffering without bound; it resumes once the reader drains.
// Input backpressure: stdin() answers false when the process's stdin (or the runner link's window
// for it) is full, and the write completes only once whenStdinWritable() resolves.
import { Duplex } from "node:stream";
import type { ExecRequest, ExecSession } from "@warren/protocol";
import type { SshEnvTarget } from "./ssh-context.ts";

export type ExecTarget = Pick<SshEnvTarget, "exec">;

export interface ExecDuplex {
  /** Readable: the process's stdout. Writable: its stdin; end() closes stdin, destroy() stops the process. */
  stream: Duplex;
  /** The process's exit status (its code, or 128+signal); rejects when Warren itself failed. */
  exit: Promise<number>;
  session: ExecSession;
}

export interface ExecDuplexOptions {
  /** The process's stderr, as it arrives. */
  onStderr?(data: Uint8Array): void;
}

export async function execDuplex(
  target: ExecTarget,
  req: ExecRequest,
  opts: ExecDuplexOptions = {},
): Promise<ExecDuplex> {
  let session: ExecSession | undefined;
  let exited = false;
  // The reader is full: the session stays paused until _read asks for more.
  let held = false;
  let drained: Array<() => void> = [];
  const release = () => {
    if (!held) return;
    held = false;
    session?.resume?.();
    const waiters = drained;
    drained = [];
    for (const w of waiters) w();
  };

  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      release();
    },
    write(chunk: Buffer, _enc, cb) {
      if (exited || !session) return cb(exited ? null : new Error("exec session is not open"));
      // Input waits while the process's stdin (and the link to it) is full.
      if (session.stdin(chunk) === false && session.whenStdinWritable)
        session.whenStdinWritable().then(() => cb(), cb);
      else cb();
    },
    final(cb) {
      if (!exited) session?.endStdin();
      cb();
    },
    destroy(err, cb) {
      // The consumer gave up on the process (its channel closed): end its input and stop it.
      if (!exited && session) {
        session.endStdin();
        session.signal("SIGTERM");
      }
      release();
      cb(err);
    },
  });

  let settle!: { resolve(code: number): void; reject(err: Error): void };
  const exit = new Promise<number>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Callers that only watch the stream must not turn a failed exec into an unhandled rejection.
  exit.catch(() => undefined);

  session = await target.exec(req, {
    stdout(data) {
      if (stream.destroyed) return true;
      if (stream.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength))) return true;
      if (!held) {
        held = true;
        session?.pause?.();
      }
      return false;
    },
    stderr(data) {
      opts.onStderr?.(data);
      return true;
    },
    whenWritable() {
      return held ? new Promise<void>((r) => drained.push(r)) : Promise.resolve();
    },
    exit(code) {
      exited = true;
      if (!stream.destroyed) stream.push(null);
      settle.resolve(code);
    },
    error(err) {
      exited = true;
      settle.reject(err);
      if (!stream.destroyed) stream.destroy(err);
    },
  });
  // Output may have filled the reader before exec() returned the session.
  if (held) session.pause?.();
  return { stream, exit, session };
}
