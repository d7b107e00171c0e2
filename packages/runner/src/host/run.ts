// Runs host commands (losetup, mount, runc...) with captured output and errors that say which
// command failed and what it printed.
import { spawn } from "node:child_process";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => {
      const res = {
        code: code ?? 128 + (signal ? 9 : 0),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (res.code !== 0 && !opts.allowFail) {
        const msg = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("; ");
        reject(new Error(`${cmd} ${args.join(" ")}: exit ${res.code}${msg ? `: ${msg}` : ""}`));
      } else resolve(res);
    });
    // A command may exit without reading all its input (a helper that refuses its arguments):
    // the write then fails with EPIPE, which must not escape as an unhandled 'error' event. The
    // exit status and stderr above say what happened.
    child.stdin.on("error", () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
