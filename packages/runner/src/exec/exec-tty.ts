// An exec with a terminal. Two ways, by what the runtime can do:
// - through a console socket (Runtime.consoleExecArgs, crun): native/bin/warren-console takes the
//   terminal's master from the runtime and relays it over pipes; resizes go to it on fd 3. crun
//   run on a terminal of its own copies that terminal's size once and never again.
// - otherwise (runc, gVisor) the runtime runs on a pty of ours (node-pty); runc passes resizes
//   of it on, and runsc uses it as the command's terminal.
// Either way the command's end of input is the terminal's EOF character, as if typed.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { ExecHandlers, ExecSession } from "@warren/protocol";
import pty from "node-pty";
import { type ExecPlan, exitStatus } from "./exec-plan.ts";

const EOF_CHAR = "\x04";

export function startTtyExec(
  plan: ExecPlan,
  file: string,
  cleanup: () => void,
  handlers: ExecHandlers,
): ExecSession {
  return plan.runtime.consoleExecArgs
    ? consoleExec(plan, file, cleanup, handlers)
    : ptyExec(plan, file, cleanup, handlers);
}

const clamp = (n: number) => Math.min(65535, Math.max(1, Math.trunc(n) || 1));

function consoleExec(plan: ExecPlan, file: string, cleanup: () => void, handlers: ExecHandlers): ExecSession {
  // Next to the process file, in the environment's root-only directory.
  const socket = path.join(path.dirname(file), `${path.basename(file, ".json")}.sock`);
  const { cmd, args, env } = plan.runtime.consoleExecArgs!(plan.containerId, file, socket);
  const child = spawn(
    plan.consoleHelper,
    [socket, String(clamp(plan.rows)), String(clamp(plan.cols)), "--", cmd, ...args],
    { stdio: ["pipe", "pipe", "pipe", "pipe"], env: env ?? process.env },
  );
  const control = child.stdio[3] as NodeJS.WritableStream | null;
  child.stdout?.on("data", (d: Buffer) => handlers.stdout(d));
  child.stderr?.on("data", (d: Buffer) => handlers.stderr(d));
  child.stdin?.on("error", () => undefined);
  (control as NodeJS.EventEmitter | null)?.on("error", () => undefined);
  // The helper removes the socket once it is used; this covers a helper killed before that.
  const done = () => {
    cleanup();
    void rm(socket, { force: true });
  };
  child.on("close", (code, signal) => {
    done();
    handlers.exit(exitStatus(code, signal));
  });
  child.on("error", (e) => {
    done();
    handlers.stderr(Buffer.from(`warren: exec failed: ${e.message}\n`));
    handlers.exit(125);
  });
  return {
    stdin: (d) => child.stdin?.write(d),
    whenStdinWritable: () =>
      child.stdin?.writableNeedDrain ? once(child.stdin, "drain").then(() => undefined) : Promise.resolve(),
    endStdin: () => child.stdin?.end(),
    resize: (c, r) => control?.write(`${clamp(r)} ${clamp(c)}\n`),
    signal: (s) => child.kill(s),
    pause: () => child.stdout?.pause(),
    resume: () => child.stdout?.resume(),
  };
}

function ptyExec(plan: ExecPlan, file: string, cleanup: () => void, handlers: ExecHandlers): ExecSession {
  const { cmd, args, env } = plan.runtime.execArgs(plan.containerId, file, true);
  const term = pty.spawn(cmd, args, {
    name: "xterm-256color",
    cols: clamp(plan.cols),
    rows: clamp(plan.rows),
    cwd: "/",
    env: { ...env, PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
    // Bytes, not strings: a multi-byte character split across two reads must not be mangled.
    encoding: null,
  });
  term.onData((d) => handlers.stdout(typeof d === "string" ? Buffer.from(d, "utf8") : d));
  term.onExit(({ exitCode, signal }) => {
    cleanup();
    handlers.exit(exitStatus(exitCode, signal ?? null));
  });
  return {
    stdin: (d) => term.write(Buffer.from(d)),
    endStdin: () => term.write(EOF_CHAR),
    resize: (c, r) => term.resize(clamp(c), clamp(r)),
    signal: (s) => term.kill(s),
    pause: () => term.pause(),
    resume: () => term.resume(),
  };
}
