// TCP+TLS transport for remote daemons. The server's certificate is usually self-signed, so
// instead of a CA chain the client pins its SHA-256 fingerprint (given to `warren login`). The
// fingerprint is checked after the handshake and BEFORE the socket is handed to the HTTP request,
// so on a mismatch not a single byte of the request (nor the token) reaches the peer.

import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import type { Transport } from "./client-transport.ts";
import { WarrenError } from "./errors.ts";
import { fingerprintOfDer, normalizeFingerprint } from "./fingerprint.ts";
import { CLIENT_USER_AGENT } from "./version.ts";

export interface TlsTransportOptions {
  /** `https://host:port` (the scheme may be omitted); the path part is ignored. */
  url: string;
  /** SHA-256 of the server certificate, in any form normalizeFingerprint accepts. */
  fingerprint: string;
  /** Sent as `Authorization: Bearer <token>`; omitted when undefined. */
  token?: string | undefined;
}

type OnSocket = (err: Error | null, socket?: Duplex) => void;

export function tlsTransport(opts: TlsTransportOptions): Transport {
  const { host, port } = parseServerUrl(opts.url);
  const expected = normalizeFingerprint(opts.fingerprint);
  const label = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  // Both node's http client and ws accept this callback form of createConnection and wait for it,
  // which is what lets the pin be checked before anything is written.
  const createConnection = (_o: unknown, cb: OnSocket): undefined => {
    pinnedConnect(host, port, expected, label, cb);
    return undefined;
  };
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  // Our own User-Agent: the server shows it to people (the device-flow confirmation page).
  const agent = { "user-agent": CLIENT_USER_AGENT };
  return {
    label,
    request(req, onResponse) {
      return httpsRequest(
        {
          host,
          port,
          method: req.method,
          path: req.path,
          headers: { ...agent, ...req.headers, ...auth },
          createConnection: createConnection as never,
        },
        onResponse,
      );
    },
    webSocket(path) {
      return {
        url: `wss://${label.slice("https://".length)}${path}`,
        options: { headers: { ...agent, ...auth }, createConnection: createConnection as never },
      };
    },
  };
}

function pinnedConnect(host: string, port: number, expected: string, label: string, cb: OnSocket): void {
  // rejectUnauthorized: false because the chain is not what is trusted; the pin below is.
  const socket = tlsConnect({
    host,
    port,
    rejectUnauthorized: false,
    ...(isIP(host) === 0 ? { servername: host } : {}),
  });
  let done = false;
  const finish = (err: Error | null) => {
    if (done) return;
    done = true;
    socket.off("error", finish);
    if (err) {
      socket.destroy();
      cb(err);
    } else cb(null, socket);
  };
  socket.once("error", finish);
  socket.once("secureConnect", () => {
    const der = socket.getPeerCertificate().raw;
    const got = der ? fingerprintOfDer(der) : "(no certificate)";
    if (got === expected) return finish(null);
    finish(
      new WarrenError(
        "UNAUTHENTICATED",
        `${label} presented a certificate with fingerprint ${got}, but the pinned fingerprint is ${expected}; ` +
          "refusing to connect (if the server's certificate was replaced on purpose, run `warren login` again)",
        { expected, got },
      ),
    );
  });
}

export function parseServerUrl(url: string): { host: string; port: number } {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `https://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new WarrenError("INVALID_ARGUMENT", `not a server URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== "https:") {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `remote servers are reached over https only, not ${u.protocol}`,
    );
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port: u.port === "" ? 443 : Number(u.port) };
}
