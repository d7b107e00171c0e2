// A daemon restart, from the process's spawn to its first answer on the socket, run from the
// sources and from bin/warren (the bundle), alternating. The harness's daemon is stopped first
// and started again after; every daemon started here is this bench's own, stopped by its pid.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Harness } from "@warren/testing/e2e-harness";

async function untilAnswers(h: Harness, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null)
      throw new Error(`the daemon exited (${child.exitCode}); see ${h.root}/daemon.log`);
    if (
      await h.client.health().then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(5);
  }
  throw new Error(`the daemon did not answer within ${timeoutMs} ms; see ${h.root}/daemon.log`);
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Samples (ms) per command line: `sources` (node main.ts daemon) and `bundle` (bin/warren daemon). */
export async function timeDaemonRestarts(
  h: Harness,
  runs: number,
  cmds: { sources: string[]; bundle: string[] },
  env: NodeJS.ProcessEnv,
): Promise<{ sources: number[]; bundle: number[] }> {
  const out = { sources: [] as number[], bundle: [] as number[] };
  await h.killDaemon();
  let child: ChildProcess | undefined;
  try {
    for (let i = 0; i < runs; i++) {
      for (const kind of ["sources", "bundle"] as const) {
        const [cmd, ...args] = cmds[kind];
        const log = openSync(path.join(h.root, "daemon.log"), "a");
        const t0 = process.hrtime.bigint();
        child = spawn(cmd!, args, { env, stdio: ["ignore", log, log] });
        closeSync(log);
        await untilAnswers(h, child);
        out[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
        await stopped(child);
        child = undefined;
      }
    }
  } finally {
    if (child) await stopped(child);
    await h.startDaemon();
  }
  return out;
}
