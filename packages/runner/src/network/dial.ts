// Opens a TCP connection from inside an environment's network namespace, so the runner's proxy
// can reach servers that listen only on the environment's own 127.0.0.1 (VS Code Server, Vite,
// Rails). The socket is made in the namespace by a small N-API addon (native/dial-addon: why an
// addon and not a setns helper is explained there); the connect happens here in libuv, so
// timeouts, errors and backpressure behave like any other net.Socket.
import { closeSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { WarrenError } from "@warren/protocol";

interface DialAddon {
  socketInNetns(netnsPath: string, family: 4 | 6): number;
}

const ADDON_PATH = fileURLToPath(
  new URL("../../native/dial-addon/build/Release/warren_dial.node", import.meta.url),
);
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

let addon: DialAddon | undefined;

// Loaded on first use, so a runner without the build still starts and fails only when dialling.
function loadAddon(): DialAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as DialAddon;
  } catch (err) {
    throw new Error(`load ${ADDON_PATH}: ${(err as Error).message}; build it with scripts/build-native.sh`, {
      cause: err,
    });
  }
  return addon;
}

/** An error that keeps the errno code (ECONNREFUSED, ENOENT, ...) so a proxy can map it. */
function dialError(context: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  return Object.assign(new Error(`${context}: ${e.message}`, { cause: err }), { code: e.code });
}

/**
 * Connects to host:port as seen from inside the network namespace at netnsPath. Only IP
 * literals (and "localhost") are accepted: a name would be resolved in the runner's namespace,
 * which is the wrong one. Rejects with the errno code kept on the error (e.g. ECONNREFUSED).
 */
export function dialInEnv(
  netnsPath: string,
  port: number,
  host = "127.0.0.1",
  timeoutMs = DEFAULT_DIAL_TIMEOUT_MS,
): Promise<net.Socket> {
  const ip = host === "localhost" ? "127.0.0.1" : host;
  const family = net.isIP(ip);
  if (family !== 4 && family !== 6) {
    return Promise.reject(
      new WarrenError("INVALID_ARGUMENT", `dial: host "${host}" is not an IP address`, { host }),
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Promise.reject(
      new WarrenError("INVALID_ARGUMENT", `dial: port ${port} is not between 1 and 65535`, { port }),
    );
  }
  const where = `dial ${net.isIPv6(ip) ? `[${ip}]` : ip}:${port} in ${netnsPath}`;
  let fd: number;
  try {
    fd = loadAddon().socketInNetns(netnsPath, family);
  } catch (err) {
    return Promise.reject(dialError(where, err));
  }
  return new Promise((resolve, reject) => {
    // manualStart: do not start reading before connect(); the handle starts reading itself once
    // connected. An unconnected socket polled for input reports a hangup.
    const opts = { fd, manualStart: true } as net.SocketConstructorOpts;
    let sock: net.Socket;
    try {
      sock = new net.Socket(opts);
    } catch (err) {
      closeSync(fd); // not yet owned by a handle, so nothing else would close it
      return reject(dialError(where, err));
    }
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" });
      sock.destroy(err);
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(dialError(where, err));
    };
    sock.once("error", onError);
    sock.connect({ port, host: ip }, () => {
      clearTimeout(timer);
      sock.off("error", onError);
      resolve(sock);
    });
  });
}
