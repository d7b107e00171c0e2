// Runs one command inside an environment (the runtime's exec, so inside all its namespaces,
// cgroup and seccomp) to its exit, turning its output into log lines as they come: git's
// --progress output rewrites one line with '\r', so those updates are passed on at most once a
// second, while every finished line passes at once. Lines are cleaned of terminal control
// characters and of any URL credentials before anyone sees them.
import type { ExecRequest, RunnerExec } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";

const MAX_LINE = 500;
const TAIL_LINES = 20;
const PROGRESS_EVERY_MS = 1000;

/** Credentials in a URL (`scheme://user:secret@`) shown as `scheme://user:***@`. */
export function redactUrlCredentials(line: string): string {
  return line.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/g, "$1:***@");
}

/** One printable line: escapes and other control characters removed, length bounded. */
export function cleanLine(raw: string): string {
  const s = redactUrlCredentials(
    raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\u0000-\u001f\u007f-\u009f]/g, ""),
  ).trimEnd();
  return s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)}...` : s;
}

/** Splits a byte stream into log lines; '\r' updates are rate-limited (`now` is injectable). */
export class LineSplitter {
  private buf = "";
  private lastProgress = Number.NEGATIVE_INFINITY;
  readonly tail: string[] = [];
  private readonly emit: (line: string) => void;
  private readonly now: () => number;
  constructor(emit: (line: string) => void, now: () => number = Date.now) {
    this.emit = emit;
    this.now = now;
  }

  push(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const i = this.buf.search(/[\r\n]/);
      if (i < 0) break;
      const sep = this.buf[i];
      const line = cleanLine(this.buf.slice(0, i));
      this.buf = this.buf.slice(i + 1);
      if (line === "") continue;
      if (sep === "\r") {
        const t = this.now();
        if (t - this.lastProgress < PROGRESS_EVERY_MS) continue;
        this.lastProgress = t;
      }
      this.out(line);
    }
    // A runaway line without an end is cut rather than held.
    if (this.buf.length > 4 * MAX_LINE) {
      this.out(cleanLine(this.buf));
      this.buf = "";
    }
  }

  end(): void {
    const line = cleanLine(this.buf);
    this.buf = "";
    if (line !== "") this.out(line);
  }

  private out(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.emit(line);
  }
}

export interface InEnvResult {
  code: number;
  /** The last lines of its output (stderr and stdout together), cleaned. */
  tail: string[];
}

/**
 * Runs `req` in environment `id`, feeding `stdin` then end of input; every output line goes to
 * `log`. Rejects only for Warren's own failures (the environment not running, the stream lost).
 */
export async function runInEnv(
  runner: RunnerExec,
  id: string,
  req: Omit<ExecRequest, "tty">,
  stdin: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<InEnvResult> {
  const lines = new LineSplitter(log);
  const decoder = { out: new TextDecoder(), err: new TextDecoder() };
  let settle!: { resolve(code: number): void; reject(e: Error): void };
  const done = new Promise<number>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const session = await runner.exec(
    id,
    { ...req, tty: false },
    {
      stdout: (d) => lines.push(decoder.out.decode(d, { stream: true })),
      stderr: (d) => lines.push(decoder.err.decode(d, { stream: true })),
      exit: (code) => settle.resolve(code),
      error: (err) => settle.reject(err),
    },
  );
  const abort = () => session.signal("SIGKILL");
  signal?.addEventListener("abort", abort, { once: true });
  try {
    if (stdin !== "") session.stdin(Buffer.from(stdin));
    session.endStdin();
    const code = await done;
    lines.end();
    if (signal?.aborted) throw new WarrenError("TIMEOUT", `${req.cmd[0]} in environment ${id} was cancelled`);
    return { code, tail: lines.tail };
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}
