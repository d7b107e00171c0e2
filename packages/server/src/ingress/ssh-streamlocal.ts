// `ssh -L PORT:/path/to.sock` (direct-streamlocal@openssh.com): a connection to a unix socket
// inside the environment, made by warren-relay running there through exec, so the path (and any
// symlink in it) is resolved in the environment's mount namespace as its user. A link to the
// daemon's socket or to /run/warren/warren.sock reaches the environment's own file system only.
import type { Duplex } from "node:stream";
import { WarrenError } from "@warren/protocol";
import { execDuplex } from "./exec-duplex.ts";
import { RELAY_IN_ENV } from "./relay-mux.ts";
import type { SshEnvTarget } from "./ssh-context.ts";

const CONNECT_TIMEOUT_MS = 15_000;
const CONNECTED = "warren-relay: connected to ";
const MAX_PATH = 107;

/** A byte stream to the unix socket `socketPath` inside the environment. */
export async function dialUnixInEnv(target: SshEnvTarget, socketPath: string): Promise<Duplex> {
  if (!socketPath.startsWith("/") || socketPath.length > MAX_PATH || socketPath.includes("\0")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `unix socket path ${JSON.stringify(socketPath.slice(0, 200))}: give an absolute path of at most ${MAX_PATH} bytes`,
    );
  }
  let stderr = "";
  let onConnected: (() => void) | undefined;
  const proc = await execDuplex(
    target,
    { cmd: [RELAY_IN_ENV, "connect", socketPath], tty: false, helper: true },
    {
      onStderr: (d) => {
        if (stderr.length > 4096) return;
        stderr += Buffer.from(d).toString("utf8");
        if (stderr.includes(CONNECTED)) onConnected?.();
      },
    },
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onConnected = resolve;
      if (stderr.includes(CONNECTED)) resolve();
      // Output that came first waits in the stream's buffer until the caller reads it.
      proc.exit.then(
        (code) => reject(new Error(reason(stderr, socketPath, code))),
        (e: Error) => reject(e),
      );
      timer = setTimeout(
        () => reject(new Error(`no answer from ${socketPath} within ${CONNECT_TIMEOUT_MS / 1000} s`)),
        CONNECT_TIMEOUT_MS,
      );
    });
  } catch (err) {
    proc.stream.destroy();
    throw new WarrenError(
      "DIAL_FAILED",
      `connect to ${socketPath} in ${target.envName}: ${(err as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
    onConnected = undefined;
  }
  return proc.stream;
}

function reason(stderr: string, socketPath: string, code?: number): string {
  const line = stderr
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith(CONNECTED));
  if (code === 127 && /\.warren\/relay/.test(stderr)) {
    return "this environment was started before Warren placed its relay in environments: restart it (warren stop, then warren start)";
  }
  if (line) return line.replace(/^warren-relay: /, "");
  return `the relay exited with status ${code ?? "unknown"} before connecting to ${socketPath}`;
}
