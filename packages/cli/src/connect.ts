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
  tlsTransport,
  WarrenError,
} from "@warren/protocol";
import { currentContext } from "./contexts.ts";

const START_TIMEOUT_MS = 15_000;

export function daemonLogPath(): string {
  const root = process.env["WARREN_ROOT"];
  return root ? join(root, "daemon.log") : "/var/log/warren/daemon.log";
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
  const client = createClient({ socketPath: path });
  try {
    await client.health();
    return client;
  } catch (err) {
    const autostart = opts.autostart ?? process.env["WARREN_NO_AUTOSTART"] !== "1";
    if (!isWarrenError(err, "DAEMON_UNAVAILABLE") || !autostart) throw err;
  }
  await startDaemon(client);
  return client;
}

export interface StartOptions {
  /** The daemon command; by default this CLI's own `daemon` command. Tests pass a stand-in. */
  argv?: string[];
  log?: string;
  timeoutMs?: number;
}

/** Starts the daemon detached and waits until it answers; resolves with its pid. */
export async function startDaemon(client: ApiClient, opts: StartOptions = {}): Promise<number | undefined> {
  const log = opts.log ?? daemonLogPath();
  const timeoutMs = opts.timeoutMs ?? START_TIMEOUT_MS;
  let fd: number;
  try {
    mkdirSync(dirname(log), { recursive: true });
    fd = openSync(log, "a");
  } catch (err) {
    throw new WarrenError(
      "DAEMON_UNAVAILABLE",
      `the daemon is not running and its log ${log} cannot be opened (${(err as Error).message}); start it with \`warren daemon\``,
    );
  }
  const [cmd, ...args] = opts.argv ?? [
    process.execPath,
    fileURLToPath(new URL("./main.ts", import.meta.url)),
    "daemon",
  ];
  // Detached in its own session so it outlives this command and the terminal's ^C.
  const child = spawn(cmd!, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    exited = signal ? `signal ${signal}` : `status ${code}`;
  });
  child.on("error", (err) => {
    exited = err.message;
  });

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await client.health();
      process.stderr.write(`warren: started the daemon in the background (pid ${child.pid}, log ${log})\n`);
      return child.pid;
    } catch (err) {
      if (!isWarrenError(err, "DAEMON_UNAVAILABLE")) throw err;
    }
    // A daemon that died at startup won't come up; say so now instead of after the timeout.
    if (exited !== undefined) {
      throw new WarrenError("DAEMON_UNAVAILABLE", `the daemon exited while starting (${exited}); see ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new WarrenError(
    "DAEMON_UNAVAILABLE",
    `the daemon did not come up within ${timeoutMs / 1000} s (pid ${child.pid}); see ${log}`,
  );
}
