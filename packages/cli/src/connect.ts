// Reaching the daemon: a remote server through the current context (contexts.ts), or the local
// socket with its root-only rule and auto-start when no daemon answers (hosts where systemd is
// PID 1 get a unit from setup instead; this is the fallback). An explicit WARREN_SOCKET wins over
// the current context, as DOCKER_HOST does over docker's.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ApiClient,
  createClient,
  DEFAULT_SOCKET,
  isWarrenError,
  socketPath,
  type Transport,
  tlsTransport,
  unixTransport,
  WarrenError,
} from "@warren/protocol";
import { currentContext } from "./contexts.ts";

const START_TIMEOUT_MS = 30_000;
/** flock(1)'s status when another process holds the lock: a supervisor runs already. */
const LOCK_HELD = 75;

function stateDir(): string {
  return process.env["WARREN_ROOT"] ?? "/var/lib/warren";
}

export function daemonLogPath(): string {
  const root = process.env["WARREN_ROOT"];
  return root ? join(root, "daemon.log") : "/var/log/warren/daemon.log";
}

/** The supervisor's pid, while one runs (supervisor.ts writes it). */
export function supervisorPidPath(): string {
  return join(stateDir(), "supervisor.pid");
}

/** The default socket is root-only; a socket named in WARREN_SOCKET is the caller's own business. */
export function checkSocketAccess(path: string): void {
  if (path === DEFAULT_SOCKET && process.getuid?.() !== 0) {
    throw new WarrenError("UNAUTHENTICATED", "the local daemon socket is root-only; run with sudo");
  }
}

export async function connect(opts: { autostart?: boolean } = {}): Promise<ApiClient> {
  const explicitSocket = process.env["WARREN_SOCKET"] !== undefined && !process.env["WARREN_CONTEXT"];
  const remote = explicitSocket ? undefined : currentContext();
  // Remote: no auto-start and no root check; the server's token check is the gate.
  if (remote) return createClient({ transport: tlsTransport(remote.ctx) });
  const path = socketPath();
  checkSocketAccess(path);
  const autostart = opts.autostart ?? process.env["WARREN_NO_AUTOSTART"] !== "1";
  const plain = createClient({ socketPath: path });
  // A request the daemon could not take (down, restarting, killed mid-request) waits until it
  // answers again, starting it if nothing else does; the client then retries what is safe.
  const client = autostart
    ? createClient({ socketPath: path, onUnavailable: () => ensureDaemon(plain).then(() => true) })
    : plain;
  try {
    await plain.health();
    return client;
  } catch (err) {
    if (!isWarrenError(err, "DAEMON_UNAVAILABLE") || !autostart) throw err;
  }
  await startDaemon(plain);
  return client;
}

/**
 * The transport connect()'s client uses, for endpoints outside ApiClient (port-forward's
 * WebSockets). Call connect() first: it checks access and starts a local daemon.
 */
export function apiTransport(): Transport {
  const explicitSocket = process.env["WARREN_SOCKET"] !== undefined && !process.env["WARREN_CONTEXT"];
  const remote = explicitSocket ? undefined : currentContext();
  return remote ? tlsTransport(remote.ctx) : unixTransport(socketPath());
}

/** Resolves once the daemon answers, starting it (under the supervisor) if nothing else is. */
export async function ensureDaemon(client: ApiClient, opts: StartOptions = {}): Promise<void> {
  try {
    await client.health();
  } catch (err) {
    if (!isWarrenError(err, "DAEMON_UNAVAILABLE")) throw err;
    await startDaemon(client, opts);
  }
}

export interface StartOptions {
  /** The daemon command; by default this CLI's own `daemon` command. Tests pass a stand-in. */
  argv?: string[];
  log?: string;
  timeoutMs?: number;
  /** The supervisor's lock file (flock); by default in the state dir. */
  lockFile?: string;
  pidFile?: string;
}

/**
 * Makes sure a supervised daemon is starting and waits until it answers; resolves with the
 * supervisor's pid when this call started it. Safe under concurrency: every caller runs the
 * supervisor under flock(1) on one lock file, so exactly one of them starts it and the others'
 * flock exits at once (LOCK_HELD); every caller then waits for the socket to answer. A restart
 * in progress (the supervisor's backoff) is waited for the same way.
 */
export async function startDaemon(client: ApiClient, opts: StartOptions = {}): Promise<number | undefined> {
  const log = opts.log ?? daemonLogPath();
  const timeoutMs = opts.timeoutMs ?? START_TIMEOUT_MS;
  const lockFile = opts.lockFile ?? join(stateDir(), "supervisor.lock");
  const pidFile = opts.pidFile ?? supervisorPidPath();
  let fd: number;
  try {
    mkdirSync(dirname(log), { recursive: true });
    mkdirSync(dirname(lockFile), { recursive: true, mode: 0o711 });
    fd = openSync(log, "a");
  } catch (err) {
    throw new WarrenError(
      "DAEMON_UNAVAILABLE",
      `the daemon is not running and its log ${log} cannot be opened (${(err as Error).message}); start it with \`warren daemon\``,
    );
  }
  const daemon = opts.argv ?? [
    process.execPath,
    fileURLToPath(new URL("./main.ts", import.meta.url)),
    "daemon",
  ];
  const supervisor = fileURLToPath(new URL("./supervisor.ts", import.meta.url));
  const argv = [
    "--nonblock",
    "--conflict-exit-code",
    String(LOCK_HELD),
    lockFile,
    process.execPath,
    supervisor,
    "--pid-file",
    pidFile,
    "--",
    ...daemon,
  ];
  // Detached in its own session so it outlives this command and the terminal's ^C.
  const child = spawn("flock", argv, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  let exited: { code: number | null; how: string } | undefined;
  child.on("exit", (code, signal) => {
    exited = { code, how: signal ? `signal ${signal}` : `status ${code}` };
  });
  child.on("error", (err) => {
    exited = { code: null, how: `cannot run flock: ${err.message}` };
  });

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await client.health();
      if (exited?.code !== LOCK_HELD) {
        process.stderr.write(`warren: started the daemon in the background (log ${log})\n`);
      }
      return exited?.code === LOCK_HELD ? undefined : child.pid;
    } catch (err) {
      if (!isWarrenError(err, "DAEMON_UNAVAILABLE")) throw err;
    }
    // Our supervisor gave up (the daemon refuses to start): say so now, not after the timeout.
    if (exited !== undefined && exited.code !== LOCK_HELD) {
      throw new WarrenError(
        "DAEMON_UNAVAILABLE",
        `the daemon exited while starting (${exited.how}); see ${log}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const who =
    exited?.code === LOCK_HELD ? "another warren process started it" : `supervisor pid ${child.pid}`;
  throw new WarrenError(
    "DAEMON_UNAVAILABLE",
    `the daemon did not answer within ${timeoutMs / 1000} s (${who}); see ${log}`,
  );
}
