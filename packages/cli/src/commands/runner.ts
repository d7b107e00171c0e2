// warren runner: this host's runner serving a remote control plane (`warren server`). It dials out
// over TLS (the server's certificate pinned by fingerprint) with a runner token, and reconnects
// with exponential backoff (1 s to 30 s) whenever the link drops; environments keep running
// meanwhile and are re-adopted by the control plane's resync on reconnect.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { connectRunner, exitOnUnhandledFaults, type RunnerConnection, WarrenError } from "@warren/protocol";
import { takeLock, untilSignal } from "../daemon-entry.ts";

export interface RunnerOptions {
  server: string;
  fingerprint: string;
  tokenFile?: string;
}

function readToken(opts: RunnerOptions): string {
  // Never a command-line argument: it would show in `ps` to every user on the host.
  if (opts.tokenFile) {
    // As ssh does for private keys: a token others can read is a token others can use.
    const mode = statSync(opts.tokenFile).mode & 0o777;
    if (mode & 0o077) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${opts.tokenFile} is readable by others (mode ${mode.toString(8)}); run \`chmod 600 ${opts.tokenFile}\``,
      );
    }
  }
  const raw = opts.tokenFile ? readFileSync(opts.tokenFile, "utf8") : process.env["WARREN_RUNNER_TOKEN"];
  const token = raw?.trim();
  if (!token) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "no runner token: pass --token-file FILE or set WARREN_RUNNER_TOKEN (an admin makes one with POST /api/v1/admin/runner-tokens)",
    );
  }
  return token;
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);

export async function runnerCommand(opts: RunnerOptions): Promise<number> {
  const token = readToken(opts);
  exitOnUnhandledFaults({ component: "runner" });
  const { createRunner, defaultConfig } = await import("@warren/runner");
  const cfg = defaultConfig();
  // The embedded daemon and a remote-serving runner must not both drive this host.
  const release = takeLock(path.join(cfg.runDir, "daemon.pid"));
  const runner = await createRunner();
  let stopping = false;
  let current: RunnerConnection | undefined;
  const loop = (async () => {
    let delay = 1000;
    while (!stopping) {
      try {
        current = await connectRunner({ url: opts.server, fingerprint: opts.fingerprint, token }, runner);
        const runnerId = await current.ready;
        log("connected to the control plane", { server: opts.server, runnerId });
        delay = 1000;
        log("disconnected", { reason: await current.closed });
      } catch (err) {
        log("cannot connect to the control plane", { server: opts.server, error: (err as Error).message });
      }
      if (stopping) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  })();
  await untilSignal(async () => {
    stopping = true;
    current?.close();
    await loop;
    await runner.close();
  });
  release();
  return 0;
}
