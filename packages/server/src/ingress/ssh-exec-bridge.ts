// One command of an SSH session (shell or exec) bridged to an exec in the environment:
// - the channel's data is the command's stdin, the client's EOF its end of input;
// - output goes to the channel's stdout and stderr; when the client's window is full (write()
//   false), the command's output is paused until the channel drains, so a slow client holds the
//   command back instead of the gateway buffering without bound;
// - its exit status goes back as `exit-status` once stderr is flushed, then the channel closes;
// - the client closing the channel hangs up a terminal (SIGHUP) or kills the command, as an exec
//   whose client went away is.
import type { Writable } from "node:stream";
import type { ExecHandlers, ExecRequest, ExecSession } from "@warren/protocol";
import type { ServerChannel } from "ssh2";
import { failureText, type SshConn } from "./ssh-conn.ts";

/** Warren's own failure inside a session, as `warren exec` reports it. */
export const WARREN_FAILURE_STATUS = 125;

export interface BridgedExec {
  /** Set once the command started. */
  readonly session: ExecSession | undefined;
}

export function bridgeExec(
  channel: ServerChannel,
  c: SshConn,
  req: ExecRequest,
  opts: { before?: () => Promise<Partial<ExecRequest>>; after?: () => void } = {},
): BridgedExec {
  let session: ExecSession | undefined;
  let finished = false;
  let stopped = false;
  const full = new Set<Writable>();
  const waiters: (() => void)[] = [];

  const release = (w: Writable) => {
    full.delete(w);
    if (full.size > 0) return;
    session?.resume?.();
    for (const r of waiters.splice(0)) r();
  };
  const write = (w: Writable, d: Uint8Array): boolean => {
    if (finished || stopped || !w.writable) return true;
    c.activity?.();
    const ok = w.write(d);
    if (!ok && !full.has(w)) {
      if (full.size === 0) session?.pause?.();
      full.add(w);
      w.once("drain", () => release(w));
    }
    return ok;
  };

  const finish = (code: number, message?: string) => {
    if (finished) return;
    finished = true;
    untrack();
    opts.after?.();
    for (const r of waiters.splice(0)) r();
    if (stopped) return;
    if (message) channel.stderr.write(`warren: ${message}\r\n`);
    // stderr is its own stream: flush it before the status and the close that follow stdout.
    channel.stderr.end(() => {
      try {
        channel.exit(code);
      } catch {}
      channel.end();
    });
  };

  const hangUp = () => {
    if (session && !finished) session.signal(req.tty ? "SIGHUP" : "SIGKILL");
  };
  const untrack = c.track({
    notify: (message) => {
      if (!finished && channel.stderr.writable) channel.stderr.write(`\r\nwarren: ${message}\r\n`);
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      hangUp();
      // Closed without a status, after the goodbye on stderr: the client prints it and exits.
      channel.stderr.end(() => channel.end());
    },
  });
  channel.on("error", (err: Error) => c.log.debug({ err }, "SSH session channel error"));
  channel.stderr.on("error", (err: Error) => c.log.debug({ err }, "SSH session stderr error"));
  channel.once("close", () => {
    stopped = true;
    hangUp();
    if (!finished) {
      finished = true;
      untrack();
      opts.after?.();
    }
  });

  const handlers: ExecHandlers = {
    stdout: (d) => write(channel, d),
    stderr: (d) => write(channel.stderr, d),
    whenWritable: () =>
      full.size === 0 || finished ? Promise.resolve() : new Promise<void>((r) => waiters.push(r)),
    exit: (code) => finish(code),
    error: (err) => finish(WARREN_FAILURE_STATUS, failureText(err)),
  };

  const start = async () => {
    await c.ready();
    const extra = opts.before ? await opts.before() : {};
    if (stopped || finished) return;
    const s = await c.target.exec({ ...req, ...extra, env: { ...req.env, ...extra.env } }, handlers);
    session = s;
    if (stopped) {
      hangUp();
      return;
    }
    if (full.size > 0) s.pause?.();
    channel.on("data", (d: Buffer) => {
      c.activity?.();
      if (!finished) s.stdin(d);
    });
    channel.once("end", () => {
      if (!finished) s.endStdin();
    });
  };
  start().catch((err: unknown) => {
    c.log.info({ err, env: c.target.envName }, "SSH session: the command could not start");
    finish(WARREN_FAILURE_STATUS, failureText(err));
  });
  return {
    get session() {
      return session;
    },
  };
}
