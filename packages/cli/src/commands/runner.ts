// warren runner: this host's runner serving a remote control plane (`warren server`). It dials out
// over TLS (the server's certificate pinned by fingerprint) with a runner token, and reconnects
// whenever the link drops (protocol runner-reconnect.ts: backoff, and a long wait plus a clear
// message when the token was revoked or expired); environments keep running meanwhile and are
// re-adopted by the control plane's resync on reconnect.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { exitOnUnhandledFaults, runRunnerLoop, WarrenError } from "@warren/protocol";
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
      "no runner token: pass --token-file FILE or set WARREN_RUNNER_TOKEN (an admin makes one with `warren admin runner-token create`)",
    );
  }
  return token;
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);

export async function runnerCommand(opts: RunnerOptions): Promise<number> {
  readToken(opts); // a missing or unsafe token is the user's error: say so now, before dialling
  exitOnUnhandledFaults({ component: "runner" });
  const { createRunner, defaultConfig } = await import("@warren/runner");
  const cfg = defaultConfig();
  // The embedded daemon and a remote-serving runner must not both drive this host.
  const release = takeLock(path.join(cfg.runDir, "daemon.pid"));
  const runner = await createRunner();
  const loop = runRunnerLoop(
    {
      url: opts.server,
      fingerprint: opts.fingerprint,
      // Read again before every attempt: replacing the file replaces a revoked or expired token.
      readToken: () => readToken(opts),
      tokenFile: opts.tokenFile,
      log,
    },
    runner,
  );
  await untilSignal(async () => {
    await loop.stop();
    await runner.close();
  });
  release();
  return 0;
}
