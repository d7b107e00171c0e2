// The internal listener other replicas relay live calls to: HTTPS that demands a client
// certificate signed by the cluster CA (mutual TLS), serving the SAME fastify app as the public
// listeners, so a relayed request is authenticated and authorized exactly as if the user had come
// here directly. Its sockets are marked as TLS (a request here is never the local root) and as
// relay sockets, which is the only thing that lets RELAY_HEADER mean anything (relay-hook.ts).
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { markTlsSocket } from "../http/transport.ts";
import type { LeafCert } from "./relay-ca.ts";

const relaySockets = new WeakSet<object>();

/** Whether the request came in over an internal relay listener (a peer with a CA certificate). */
export function cameByRelay(req: IncomingMessage): boolean {
  return relaySockets.has(req.socket);
}

export interface RelayListener {
  server: Server;
  address: { host: string; port: number };
  close(): Promise<void>;
}

export async function listenRelay(
  app: FastifyInstance,
  o: {
    host: string;
    port: number;
    leaf: LeafCert;
    /** The ingress's streams (relay/ingress-serve.ts): upgrades it takes never reach the app. */
    ingress?: ((req: IncomingMessage, socket: Duplex, head: Buffer) => boolean) | undefined;
  },
): Promise<RelayListener> {
  await app.ready();
  const server = createServer(
    {
      cert: o.leaf.certPem,
      key: o.leaf.keyPem,
      ca: o.leaf.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    (req, res) => app.routing(req, res),
  );
  const sockets = new Set<Duplex>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  // Marked at the handshake, before any HTTP byte is parsed.
  server.on("secureConnection", (s) => {
    markTlsSocket(s);
    relaySockets.add(s);
  });
  server.on("upgrade", (req, socket, head) => {
    if (o.ingress?.(req, socket, head)) return;
    app.server.emit("upgrade", req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const address =
    typeof addr === "object" && addr !== null
      ? { host: addr.address, port: addr.port }
      : { host: o.host, port: o.port };
  return {
    server,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
