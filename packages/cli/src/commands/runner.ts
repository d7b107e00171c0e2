// warren runner: this host's runner serving a remote control plane (`warren server`). It dials out
// over TLS (the server's certificate pinned by fingerprint) with a runner token, and reconnects
// whenever the link drops (protocol runner-reconnect.ts: backoff, and a long wait plus a clear
// message when the token was revoked or expired); environments keep running meanwhile and are
// re-adopted by the control plane's resync on reconnect.
import { mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { exitOnUnhandledFaults, runRunnerLoop, WarrenError } from "@warren/protocol";
import { takeLock, untilSignal } from "../daemon-entry.ts";

export interface RunnerOptions {
  server: string;
  fingerprint: string;
  tokenFile?: string;
  /** Fleet name; default the hostname as a DNS label. */
  name?: string;
  /** `k=v` placement labels, repeatable. */
  label?: string[];
  /** State root, run dir and host-object name prefix: disjoint per runner on one host. */
  root?: string;
  run?: string;
  prefix?: string;
}

// The prefix names an nft table, a cgroup, runtime containers and the `<prefix>0` link (15 bytes).
const PREFIX_RE = /^[a-z][a-z0-9_-]{0,13}$/;

/** The runner's host configuration from flags, then WARREN_* variables, then defaults. */
async function runnerConfig(opts: RunnerOptions) {
  const { checkRunnerName, defaultConfig, parseLabels } = await import("@warren/runner");
  const over: Partial<import("@warren/runner").RunnerConfig> = {};
  if (opts.root) over.root = path.resolve(opts.root);
  if (opts.run) over.runDir = path.resolve(opts.run);
  if (opts.prefix) over.prefix = opts.prefix;
  if (opts.name !== undefined) over.name = checkRunnerName(opts.name);
  if (opts.label?.length) over.labels = parseLabels(opts.label);
  const cfg = defaultConfig(over);
  if (!PREFIX_RE.test(cfg.prefix)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `prefix ${JSON.stringify(cfg.prefix)} must be 1-14 lowercase letters, digits, _ or -, starting with a letter (for example --prefix wrb)`,
    );
  }
  return cfg;
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
  const { claimRunnerHost, createRunner } = await import("@warren/runner");
  const cfg = await runnerConfig(opts);
  // Before anything is made on the host: a runner whose id range, subnet, root, run dir or
  // prefix is another live runner's (or the embedded daemon's) must not touch them.
  const releaseClaim = await claimRunnerHost(cfg, "runner");
  let release = () => {};
  let runner: Awaited<ReturnType<typeof createRunner>>;
  try {
    // The embedded daemon and a remote-serving runner must not both drive this run dir.
    mkdirSync(cfg.runDir, { recursive: true, mode: 0o700 });
    release = takeLock(path.join(cfg.runDir, "daemon.pid"));
    runner = await createRunner(cfg);
  } catch (err) {
    release();
    releaseClaim();
    throw err;
  }
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
  releaseClaim();
  return 0;
}
