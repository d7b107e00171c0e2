// Runs one command in an environment with the local terminal attached; shared by exec, shell and
// up. Resolves with the command's exit status; rejects with Warren's own failure (-> exit 125).
import type { ApiClient, ExecRequest, ExecSession } from "@warren/protocol";

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export async function attach(client: ApiClient, name: string, request: ExecRequest): Promise<number> {
  const { stdin, stdout, stderr } = process;
  let req = request;
  if (req.tty && !stdin.isTTY) {
    // As `docker exec -t` does. A terminal fed from a pipe or file would echo the input back
    // and turn its end into a ^D that only a reader in canonical mode takes as end of input.
    stderr.write("warren: the input is not a terminal, so the command runs without one\n");
    req = { ...req, tty: false };
  }
  const tty = req.tty;
  if (tty) {
    req.cols = stdout.columns ?? 80;
    req.rows = stdout.rows ?? 24;
  }
  let settle!: { ok: (code: number) => void; fail: (err: Error) => void };
  const done = new Promise<number>((ok, fail) => {
    settle = { ok, fail };
  });
  // The stream that last refused more output (a full pipe or a slow terminal).
  let full: NodeJS.WriteStream = stdout;
  const write = (to: NodeJS.WriteStream, d: Uint8Array) => {
    full = to;
    return to.write(d);
  };
  const session = await client.exec(name, req, {
    stdout: (d) => write(stdout, d),
    stderr: (d) => write(tty ? stdout : stderr, d),
    whenWritable: () => new Promise<void>((resolve) => full.once("drain", () => resolve())),
    exit: (code) => settle.ok(code),
    error: (err) => settle.fail(err),
    // The environment was stopped and is starting: say why nothing happens yet. A terminal in raw
    // mode does not turn \n into a new line by itself.
    notice: (message) => stderr.write(`warren: ${message}${tty && stdin.isTTY ? "\r\n" : "\n"}`),
  });

  const cleanups: Array<() => void> = [];
  const cleanup = () => {
    for (const fn of cleanups.splice(0).reverse()) fn();
  };
  try {
    if (tty) setUpTerminal(session, cleanups);
    else forwardSignals(session, cleanups);
    const onData = (d: Buffer) => session.stdin(d);
    const onEnd = () => session.endStdin();
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    cleanups.push(() => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
    });
    stdin.resume();
    return await done;
  } finally {
    cleanup();
  }
}

/** Raw mode and resize forwarding, undone on every way out (return, throw, exit, signal). */
function setUpTerminal(session: ExecSession, cleanups: Array<() => void>): void {
  const { stdin, stdout } = process;
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    const restore = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
    };
    process.on("exit", restore);
    cleanups.push(() => {
      restore();
      process.off("exit", restore);
    });
  }
  if (stdout.isTTY) {
    const onResize = () => session.resize(stdout.columns, stdout.rows);
    process.on("SIGWINCH", onResize);
    cleanups.push(() => process.off("SIGWINCH", onResize));
  }
  // In raw mode ^C reaches the remote as a byte; these come from outside (kill, hangup).
  for (const sig of ["SIGTERM", "SIGHUP"] as const) {
    const onSig = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
      process.exit(128 + (SIGNAL_NUMBERS[sig] ?? 0));
    };
    process.on(sig, onSig);
    cleanups.push(() => process.off(sig, onSig));
  }
}

/**
 * Without a PTY, signals to warren go to the command, so ^C stops it rather than just detaching.
 * A second ^C gives up on the command and exits 130 locally.
 */
function forwardSignals(session: ExecSession, cleanups: Array<() => void>): void {
  let interrupts = 0;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSig = () => {
      if (sig === "SIGINT" && ++interrupts > 1) process.exit(130);
      session.signal(sig);
    };
    process.on(sig, onSig);
    cleanups.push(() => process.off(sig, onSig));
  }
}
