// The relaying replica's end of ingress relays (relay/ingress-wire.ts): a dial or an exec about an
// environment whose runner another replica holds, sent to that replica's internal listener over
// mutual TLS (this replica's leaf; the peer must present the cluster CA's certificate it
// registered). A dial comes back as an ordinary Duplex, so the SSH gateway and the port proxy use
// it as they use a local dial; an exec as an ExecSession. The holder's refusal (its own ErrorBody)
// reaches the caller as the same WarrenError a local call would have thrown.
import type { IncomingMessage } from "node:http";
import { type Duplex, duplexPair } from "node:stream";
import type { PeerCertificate } from "node:tls";
import {
  bridgeWebSocket,
  type ErrorBody,
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  normalizeFingerprint,
  openExec,
  type Transport,
  WarrenError,
} from "@warren/protocol";
import WebSocket, { type ClientOptions } from "ws";
import { encodeCall, INGRESS_CALL_HEADER, INGRESS_PATH, type IngressCall } from "./ingress-wire.ts";
import { RELAY_HEADER, type RelayTls } from "./relay-forward.ts";
import type { RelayPeer } from "./replicas.ts";

/** A peer that does not answer the upgrade in this long is taken for gone. */
const HANDSHAKE_MS = 10_000;

export interface IngressPeer {
  peer: RelayPeer;
  tls: RelayTls;
  /** This replica's id (RELAY_HEADER: where the call came from, for the holder's log). */
  selfId: string;
}

function wsOptions(p: IngressPeer, call: IngressCall): ClientOptions {
  return {
    ca: p.tls.caPem,
    cert: p.tls.certPem,
    key: p.tls.keyPem,
    minVersion: "TLSv1.3",
    perMessageDeflate: false,
    handshakeTimeout: HANDSHAKE_MS,
    headers: { [INGRESS_CALL_HEADER]: encodeCall(call), [RELAY_HEADER]: p.selfId },
    // Signed by the cluster CA (checked first) AND the very certificate that replica registered.
    // ws passes it to tls.connect as is, whose contract (an Error refuses) its typing misstates.
    checkServerIdentity: ((_host: string, cert: PeerCertificate) =>
      normalizeFingerprint(cert.fingerprint256) === p.peer.fingerprint
        ? undefined
        : new Error(
            `replica ${p.peer.replicaId} presented a certificate other than the one it registered`,
          )) as unknown as ClientOptions["checkServerIdentity"],
  };
}

const wsUrl = (p: IngressPeer, path: string) => `${p.peer.url.replace(/^https:/, "wss:")}${path}`;

function unreachable(p: IngressPeer, err: unknown): WarrenError {
  return new WarrenError(
    "RUNNER_UNAVAILABLE",
    `the environment's runner is held by replica ${p.peer.replicaId}, and relaying to it failed (${(err as Error).message}); retry`,
    { replicaId: p.peer.replicaId },
  );
}

/** The holder's refusal: its ErrorBody when it sent one, else a relay failure. */
function refusal(p: IngressPeer, res: IncomingMessage): Promise<WarrenError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("error", () => resolve(unreachable(p, new Error(`answer ${res.statusCode}`))));
    res.on("end", () => {
      try {
        resolve(WarrenError.fromBody(JSON.parse(Buffer.concat(chunks).toString("utf8")) as ErrorBody));
      } catch {
        resolve(unreachable(p, new Error(`answer ${res.statusCode} without an error body`)));
      }
    });
  });
}

/** A connection made inside the environment by the replica holding its runner. */
export function relayDial(p: IngressPeer, call: IngressCall): Promise<Duplex> {
  const ws = new WebSocket(wsUrl(p, `${INGRESS_PATH}dial`), wsOptions(p, call));
  return new Promise<Duplex>((resolve, reject) => {
    let refused = false;
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      refused = true;
      void refusal(p, res).then((err) => {
        reject(err);
        ws.terminate();
      });
    });
    // After a refusal, terminate() reports the aborted handshake as an error: not the story.
    ws.on("error", (err) => refused || reject(unreachable(p, err)));
    ws.once("open", () => {
      const [mine, theirs] = duplexPair();
      // duplexPair turns a destroy into an orderly end on the other side; a stream dropped before
      // it finished writing is a reset, which the holder must see as one (close 1011).
      mine.once("close", () => {
        if (!mine.writableFinished && !theirs.destroyed)
          theirs.destroy(new Error("closed by the relaying replica"));
      });
      void bridgeWebSocket(ws, theirs);
      resolve(mine);
    });
  });
}

/** A command run inside the environment by the replica holding its runner. */
export function relayExec(
  p: IngressPeer,
  call: IngressCall,
  req: ExecRequest,
  h: ExecHandlers,
): Promise<ExecSession> {
  const transport: Transport = {
    label: `replica ${p.peer.replicaId}'s relay listener`,
    request: () => {
      throw new Error("an ingress relay makes WebSocket calls only");
    },
    webSocket: (path) => ({ url: wsUrl(p, path), options: wsOptions(p, call) }),
  };
  return openExec(transport, `${INGRESS_PATH}exec`, req, h).catch((err: unknown) => {
    throw err instanceof WarrenError && err.code !== "DAEMON_UNAVAILABLE" ? err : unreachable(p, err);
  });
}
