// How the API client reaches a daemon: the local unix socket here, TCP+TLS with a pinned
// certificate in client-tls.ts. Both implement Transport, so `createClient` callers never change.
import type { ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import { request as httpRequest } from "node:http";
import type { ClientOptions as WsClientOptions } from "ws";
import { type ErrorBody, WarrenError } from "./errors.ts";
import { CLIENT_USER_AGENT } from "./version.ts";

export interface TransportRequest {
  method: string;
  /** Path including the query string, e.g. `/api/v1/environments?wait=1`. */
  path: string;
  headers?: Record<string, string>;
}

export interface Transport {
  /** Human-readable address used in error messages ("unix socket /run/warren/warren.sock"). */
  readonly label: string;
  request(req: TransportRequest, onResponse: (res: IncomingMessage) => void): ClientRequest;
  /** URL and options for `new WebSocket(url, options)` to reach `path` on the same daemon. */
  webSocket(path: string): { url: string; options: WsClientOptions };
}

export { parseServerUrl, type TlsTransportOptions, tlsTransport } from "./client-tls.ts";

export function unixTransport(socketPath: string): Transport {
  return {
    label: `unix socket ${socketPath}`,
    request(req, onResponse) {
      // servername: read by http's agent (net.connect ignores it), not in the RequestOptions type.
      const opts: RequestOptions & { servername: string } = {
        socketPath,
        // No TLS here, so no server name: without one, http's agent works one out from the host,
        // and its IP check compiles a large regular expression (10 ms and more of a CLI call).
        servername: "",
        method: req.method,
        path: req.path,
        headers: { host: "warren", "user-agent": CLIENT_USER_AGENT, ...req.headers },
      };
      return httpRequest(opts, onResponse);
    },
    webSocket(path) {
      // ws's unix-socket URL form: ws+unix://<socket path>:<request path>
      return {
        url: `ws+unix://${socketPath}:${path}`,
        options: { headers: { "user-agent": CLIENT_USER_AGENT } },
      };
    },
  };
}

/**
 * Sends `Authorization: Bearer <token>` on every request and WebSocket upgrade of `inner`. Over
 * the local socket root needs no token; remote transports (TLS) always carry one.
 */
export function withToken(inner: Transport, token: string): Transport {
  const auth = `Bearer ${token}`;
  return {
    label: inner.label,
    request: (req, onResponse) =>
      inner.request({ ...req, headers: { ...req.headers, authorization: auth } }, onResponse),
    webSocket(path) {
      const ws = inner.webSocket(path);
      const headers = { ...(ws.options.headers as Record<string, string> | undefined), authorization: auth };
      return { url: ws.url, options: { ...ws.options, headers } };
    },
  };
}

/** Maps a socket-level failure to a typed error so the CLI can say what to do. */
export function connectionError(err: unknown, transport: Transport): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
    case "ECONNREFUSED":
      return new WarrenError(
        "DAEMON_UNAVAILABLE",
        `the Warren daemon is not running (no answer on ${transport.label}); start it with \`warren daemon\``,
        { errno: code },
      );
    case "EACCES":
    case "EPERM":
      return new WarrenError("UNAUTHENTICATED", `permission denied on ${transport.label}; run with sudo`, {
        errno: code,
      });
    case "ECONNRESET":
    case "EPIPE":
      return new WarrenError(
        "DAEMON_UNAVAILABLE",
        `the Warren daemon closed the connection (${code}); check the daemon log`,
        {
          errno: code,
        },
      );
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** Non-2xx: the body should be an ErrorBody; anything else means a proxy or a daemon bug. */
export function errorFromResponse(method: string, path: string, status: number, text: string): WarrenError {
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.code === "string" && typeof body.message === "string") {
      return WarrenError.fromBody(body as ErrorBody);
    }
  } catch {
    // fall through: not JSON
  }
  return new WarrenError(
    "INTERNAL",
    `${method} ${path}: HTTP ${status}: ${text.slice(0, 200) || "(no body)"}`,
    {
      status,
    },
  );
}
