// `warren daemon`: the embedded control plane and this host's runner in one process, connected
// through the runner protocol interface (the in-memory transport). Resolves when it shuts down.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { exitOnUnhandledFaults, socketPath, WarrenError } from "@warren/protocol";
import { claimRunnerHost, createRunner, defaultConfig } from "@warren/runner";
import { runDaemon } from "@warren/server";

/** Prefer the faster runtime (bench/start: crun's create-to-first-exec p50 is below runc's here). */
const RUNTIME_PREFERENCE = ["crun", "runc"] as const;
/** Where the SSH gateway listens unless --ssh-listen or WARREN_SSH_LISTEN says otherwise. */
export const DEFAULT_SSH_LISTEN = "127.0.0.1:2222";
/** Where the port proxy listens unless --http-listen or WARREN_HTTP_LISTEN says otherwise. */
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:8080";

/** The port proxy's flags (or WARREN_HTTP_LISTEN, WARREN_BASE_DOMAIN, WARREN_HTTP_CERT/KEY). */
export interface PortProxyFlags {
  httpListen?: string | undefined;
  baseDomain?: string | undefined;
  httpCert?: string | undefined;
  httpKey?: string | undefined;
}

/** On by default on loopback; only an address someone chose must be had. */
export function portProxyOptions(f: PortProxyFlags) {
  const chosen = f.httpListen || process.env["WARREN_HTTP_LISTEN"];
  return {
    listen: chosen || DEFAULT_HTTP_LISTEN,
    optional: !chosen,
    baseDomain: f.baseDomain || process.env["WARREN_BASE_DOMAIN"] || undefined,
    certPath: f.httpCert || process.env["WARREN_HTTP_CERT"] || undefined,
    keyPath: f.httpKey || process.env["WARREN_HTTP_KEY"] || undefined,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One daemon per run dir: two CLIs auto-starting at once must not start two. */
export function takeLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, "utf8") === String(process.pid)) unlinkSync(file);
        } catch {}
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(file, "utf8"));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `another warren daemon (or runner) is running (pid ${pid}); stop it first`,
        );
      }
      unlinkSync(file); // stale: its owner died without cleaning up (kill -9)
    }
  }
  throw new Error(`cannot take the daemon lock ${file}`);
}

export async function startDaemonForCli(
  opts: {
    listen?: string | undefined;
    db?: string | undefined;
    sshListen?: string | undefined;
  } & PortProxyFlags = {},
): Promise<void> {
  exitOnUnhandledFaults({ component: "daemon" });
  const cfg = defaultConfig();
  // Runners sharing this host (`warren runner --root/--run/--prefix`) must not overlap ours.
  const releaseClaim = await claimRunnerHost(cfg, "daemon");
  let runner: Awaited<ReturnType<typeof createRunner>>;
  try {
    runner = await createRunner();
  } catch (err) {
    releaseClaim();
    throw err;
  }
  const release0 = takeLock(path.join(cfg.runDir, "daemon.pid"));
  const release = () => {
    release0();
    releaseClaim();
  };
  const info = await runner.info();
  const defaultRuntime = RUNTIME_PREFERENCE.find((r) => info.runtimes.includes(r));
  if (!defaultRuntime) {
    release();
    throw new WarrenError(
      "RUNTIME_UNSUPPORTED",
      "no OCI runtime works on this host: install runc or crun (scripts/setup.sh does)",
    );
  }
  const daemon = await runDaemon({
    socketPath: socketPath(),
    root: cfg.root,
    db: opts.db || undefined,
    runner,
    defaultRuntime,
    // This entry point owns the signals, so the lock is released after the daemon has closed.
    handleSignals: false,
    // Remote use is opt-in: the embedded quick start serves only the root-only local socket.
    listen: opts.listen || undefined,
    // The SSH gateway is on by default on loopback; only an address someone chose must be had.
    sshListen: opts.sshListen || DEFAULT_SSH_LISTEN,
    sshListenOptional: !opts.sshListen,
    portProxy: portProxyOptions(opts),
    tlsCert: process.env["WARREN_TLS_CERT"],
    tlsKey: process.env["WARREN_TLS_KEY"],
  });
  await untilSignal(() => daemon.close().then(() => runner.close()));
  release();
}

/** Resolves after SIGTERM or SIGINT, once `stop` has finished. */
export function untilSignal(stop: () => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      void stop().finally(resolve);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
