// Runs one command inside an environment for the setup controller (the runner's exec, so it runs
// in the environment's full sandbox) and returns its status, its stdout up to a cap, and its
// output as lines to the environment's log. A command that outlives its time limit is killed.
import type { ExecRequest, RunnerExec } from "@warren/protocol";

export interface ExecRunOptions {
  /** Bytes fed to stdin, then closed (default: stdin closed at once). */
  stdin?: AsyncIterable<Uint8Array> | Uint8Array;
  /** Each output line (stdout and stderr), for the log; stdout is kept only when `keepStdout`. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Keep up to this many bytes of stdout (default 0). */
  keepStdout?: number;
  timeoutMs?: number;
}

export interface ExecRunResult {
  exitCode: number;
  stdout: Buffer;
  /** stdout went past keepStdout. */
  truncated: boolean;
}

export async function execRun(
  runner: RunnerExec,
  envId: string,
  req: Omit<ExecRequest, "tty">,
  o: ExecRunOptions = {},
): Promise<ExecRunResult> {
  const keep = o.keepStdout ?? 0;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let truncated = false;
  const splitters = { stdout: lineSplitter("stdout", o.onLine), stderr: lineSplitter("stderr", o.onLine) };
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<number>((resolve, reject) => {
    void runner
      .exec(
        envId,
        { ...req, tty: false },
        {
          stdout(data) {
            if (keptBytes < keep) {
              const take = Buffer.from(data).subarray(0, keep - keptBytes);
              kept.push(take);
              keptBytes += take.length;
              if (take.length < data.length) truncated = true;
            } else if (keep > 0) truncated = true;
            splitters.stdout.push(data);
          },
          stderr(data) {
            splitters.stderr.push(data);
          },
          exit: resolve,
          error: reject,
        },
      )
      .then(async (session) => {
        if (o.timeoutMs) timer = setTimeout(() => session.signal("SIGKILL"), o.timeoutMs);
        if (o.stdin instanceof Uint8Array) session.stdin(o.stdin);
        else if (o.stdin) {
          for await (const chunk of o.stdin) {
            if (session.stdin(chunk) === false) await session.whenStdinWritable?.();
          }
        }
        session.endStdin();
      }, reject);
  });
  try {
    const exitCode = await done;
    return { exitCode, stdout: Buffer.concat(kept), truncated };
  } finally {
    if (timer) clearTimeout(timer);
    splitters.stdout.end();
    splitters.stderr.end();
  }
}

const MAX_LINE = 4096;

function lineSplitter(stream: "stdout" | "stderr", onLine: ExecRunOptions["onLine"]) {
  let partial = "";
  const decoder = new TextDecoder();
  const emit = (line: string) => {
    // git and builds redraw progress with \r: keep the last state of the line.
    const shown = line.split("\r").filter(Boolean).pop() ?? "";
    if (shown) onLine?.(shown.slice(0, MAX_LINE), stream);
  };
  return {
    push(data: Uint8Array) {
      if (!onLine) return;
      partial += decoder.decode(data, { stream: true });
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      if (partial.length > MAX_LINE) {
        emit(partial);
        partial = "";
      }
      for (const l of lines) emit(l);
    },
    end() {
      if (partial) emit(partial);
      partial = "";
    },
  };
}
