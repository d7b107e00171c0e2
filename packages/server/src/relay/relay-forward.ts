// Forwards a user's own request, unchanged, to the replica holding the runner, over mutual TLS:
// the method, path and query, the headers (the user's Authorization among them) and the body as it
// streams; the answer streams back the same way. A WebSocket upgrade is piped both ways once the
// holder answers 101, and a refusal before the upgrade (401, 403, 404...) is passed back as is.
// The holder authenticates and authorizes the request itself through its own app: nothing here
// vouches for the user. The relaying replica adds only RELAY_HEADER (its own id), which the holder
// honours only on its internal listener, so a relayed request is never relayed again.

import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { Duplex } from "node:stream";
import type { PeerCertificate } from "node:tls";
import { normalizeFingerprint, WarrenError } from "@warren/protocol";
import { HOP_BY_HOP } from "../ingress/http-proxy-headers.ts";
import type { RelayPeer } from "./replicas.ts";

/** Set by the relaying replica: its replica id. Meaningful only on the internal listener. */
export const RELAY_HEADER = "x-warren-relayed-by";

/** This replica's leaf and the cluster CA: what it presents and what it trusts. */
export interface RelayTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = String(headers.connection ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    // The host names the relaying replica's connection, not the request.
    if (v === undefined || HOP_BY_HOP.has(k) || k === "host" || named.includes(k) || k === RELAY_HEADER)
      continue;
    out[k] = v;
  }
  return out;
}

function options(
  peer: RelayPeer,
  tls: RelayTls,
  req: IncomingMessage,
  headers: OutgoingHttpHeaders,
): RequestOptions {
  const u = new URL(peer.url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port || 443),
    method: req.method ?? "GET",
    path: req.url ?? "/",
    headers,
    ca: tls.caPem,
    cert: tls.certPem,
    key: tls.keyPem,
    minVersion: "TLSv1.3",
    agent: false,
    // Signed by the cluster CA (checked first) AND the very certificate that replica registered.
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      normalizeFingerprint(cert.fingerprint256) === peer.fingerprint
        ? undefined
        : new Error(`replica ${peer.replicaId} presented a certificate other than the one it registered`),
  };
}

/** A peer that does not finish the TLS handshake in this long is taken for gone. */
const CONNECT_MS = 10_000;

/**
 * The upstream request, failing when the handshake does not finish in time. Only the handshake:
 * the answer itself may rightly take long (a stopped environment is started before a forward).
 */
function dial(o: RequestOptions): ClientRequest {
  const up = httpsRequest(o);
  up.once("socket", (socket) => {
    const timer = setTimeout(
      () => up.destroy(new Error(`no TLS handshake within ${CONNECT_MS / 1000} s`)),
      CONNECT_MS,
    );
    socket.once("secureConnect", () => clearTimeout(timer));
    socket.once("close", () => clearTimeout(timer));
  });
  return up;
}

function relayFailed(peer: RelayPeer, err: unknown): { status: number; body: string } {
  const e = new WarrenError(
    "RUNNER_UNAVAILABLE",
    `this call must reach the environment's runner, which replica ${peer.replicaId} holds, and relaying to it failed (${(err as Error).message}); retry`,
    { replicaId: peer.replicaId },
  );
  return { status: e.status, body: JSON.stringify(e.toBody()) };
}

/** An ordinary request: streamed both ways; the client leaving ends the upstream request. */
export function forwardHttp(
  req: IncomingMessage,
  res: ServerResponse,
  peer: RelayPeer,
  tls: RelayTls,
  selfId: string,
): void {
  const up = dial(options(peer, tls, req, { ...endToEnd(req.headers), [RELAY_HEADER]: selfId }));
  up.on("response", (answer) => {
    res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
    answer.pipe(res);
    answer.on("error", () => res.destroy());
  });
  up.on("error", (err) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const f = relayFailed(peer, err);
    res.writeHead(f.status, { "content-type": "application/json; charset=utf-8" }).end(f.body);
  });
  // A follow (logs -f) runs until the client hangs up: then the holder must stop it too.
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

function head(status: number, message: string, rawHeaders: string[], extra: string[] = []): string {
  const lines = [`HTTP/1.1 ${status} ${message}`];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  return `${[...lines, ...extra].join("\r\n")}\r\n\r\n`;
}

/** A WebSocket upgrade: `client` is the upgraded request's socket, `early` bytes read past its head. */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  early: Buffer,
  peer: RelayPeer,
  tls: RelayTls,
  selfId: string,
): void {
  const headers = {
    ...endToEnd(req.headers),
    connection: "Upgrade",
    upgrade: String(req.headers.upgrade ?? "websocket"),
    [RELAY_HEADER]: selfId,
  };
  const up = dial(options(peer, tls, req, headers));
  client.once("close", () => up.destroy());
  up.on("upgrade", (answer, upstream, upstreamEarly) => {
    client.write(head(101, answer.statusMessage ?? "Switching Protocols", answer.rawHeaders));
    if (upstreamEarly.length > 0) client.write(upstreamEarly);
    if (early.length > 0) upstream.write(early);
    const end = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on("error", end).on("close", end);
    client.on("error", end).on("close", end);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  // Refused before the upgrade: the holder's own answer, then the connection ends.
  up.on("response", (answer) => {
    const kept = answer.rawHeaders.filter((_, i, all) => {
      const name = (i % 2 === 0 ? all[i] : all[i - 1])?.toLowerCase() ?? "";
      return !HOP_BY_HOP.has(name);
    });
    client.write(head(answer.statusCode ?? 502, answer.statusMessage ?? "", kept, ["Connection: close"]));
    answer.pipe(client);
    answer.on("error", () => client.destroy());
  });
  up.on("error", (err) => {
    if (client.destroyed) return;
    const f = relayFailed(peer, err);
    client.end(
      head(
        f.status,
        "Service Unavailable",
        [],
        [
          "Content-Type: application/json; charset=utf-8",
          `Content-Length: ${Buffer.byteLength(f.body)}`,
          "Connection: close",
        ],
      ) + f.body,
    );
  });
  up.end();
}
