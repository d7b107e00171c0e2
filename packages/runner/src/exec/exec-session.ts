// Runs one process inside a running environment through the OCI runtime's `exec`. Without a
// TTY over pipes; with one, see exec-tty.ts.
import { once } from "node:events";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ExecHandlers, ExecSession } from "@warren/protocol";
import { type ExecPlan, exitStatus } from "./exec-plan.ts";
import { startTtyExec } from "./exec-tty.ts";

export type { ExecPlan } from "./exec-plan.ts";

export async function startExec(plan: ExecPlan, handlers: ExecHandlers): Promise<ExecSession> {
  const file = path.join(plan.tmpDir, `exec-${process.pid}-${Math.random().toString(16).slice(2)}.json`);
  await writeFile(file, JSON.stringify(plan.process), { mode: 0o600 });
  const cleanup = () => void rm(file, { force: true });
  if (plan.tty) return startTtyExec(plan, file, cleanup, handlers);

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
    whenStdinWritable: () =>
      child.stdin?.writableNeedDrain ? once(child.stdin, "drain").then(() => undefined) : Promise.resolve(),
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
