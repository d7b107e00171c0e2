// Runs one process inside a running environment through the OCI runtime's `exec`. With a TTY
// the runtime runs under node-pty, so its own console handling sits on a real terminal and
// resizes reach the process as SIGWINCH.
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ExecHandlers, ExecSession } from "@warren/protocol";
import pty from "node-pty";
import type { Runtime } from "../runtime/types.ts";

export interface ExecPlan {
  runtime: Runtime;
  containerId: string;
  /** OCI process object for `exec --process`. */
  process: Record<string, unknown>;
  tmpDir: string;
  tty: boolean;
  cols: number;
  rows: number;
}

function exitStatus(code: number | null, signal: string | number | null): number {
  if (code !== null && code !== undefined) return code;
  if (typeof signal === "number" && signal > 0) return 128 + signal;
  if (typeof signal === "string") {
    const n = (
      { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 } as Record<string, number>
    )[signal];
    return 128 + (n ?? 0);
  }
  return 0;
}

export async function startExec(plan: ExecPlan, handlers: ExecHandlers): Promise<ExecSession> {
  const file = path.join(plan.tmpDir, `exec-${process.pid}-${Math.random().toString(16).slice(2)}.json`);
  await writeFile(file, JSON.stringify(plan.process), { mode: 0o600 });
  const cleanup = () => void rm(file, { force: true });

  if (plan.tty) {
    const { cmd, args, env } = plan.runtime.execArgs(plan.containerId, file, true);
    const term = pty.spawn(cmd, args, {
      name: "xterm-256color",
      cols: plan.cols,
      rows: plan.rows,
      cwd: "/",
      env: { ...env, PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    term.onData((d) => handlers.stdout(Buffer.from(d, "utf8")));
    term.onExit(({ exitCode, signal }) => {
      cleanup();
      handlers.exit(exitStatus(exitCode, signal ?? null));
    });
    return {
      stdin: (d) => term.write(Buffer.from(d).toString("utf8")),
      endStdin: () => term.write("\x04"),
      resize: (c, r) => term.resize(Math.max(1, c), Math.max(1, r)),
      signal: (s) => term.kill(s),
      pause: () => term.pause(),
      resume: () => term.resume(),
    };
  }

  const child = plan.runtime.spawnExec(plan.containerId, file);
  child.stdout?.on("data", (d: Buffer) => handlers.stdout(d));
  child.stderr?.on("data", (d: Buffer) => handlers.stderr(d));
  child.stdin?.on("error", () => undefined);
  child.on("close", (code, signal) => {
    cleanup();
    handlers.exit(exitStatus(code, signal));
  });
  child.on("error", (e) => {
    cleanup();
    handlers.stderr(Buffer.from(`warren: exec failed: ${e.message}\n`));
    handlers.exit(125);
  });
  return {
    stdin: (d) => child.stdin?.write(d),
    endStdin: () => child.stdin?.end(),
    resize: () => undefined,
    signal: (s) => child.kill(s),
    pause: () => {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume: () => {
      child.stdout?.resume();
      child.stderr?.resume();
    },
  };
}
