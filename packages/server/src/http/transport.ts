// Which listener a request came through. The TLS listener marks each accepted socket (see
// listen-tls.ts); everything else is the root-only unix socket. Authentication reads this to let
// root on the local socket act as the owner and to demand a Bearer token everywhere else.
import type { Socket } from "node:net";
import type { FastifyRequest } from "fastify";

export type TransportKind = "local" | "tls";

/** Set on sockets accepted by the TLS listener. */
export function markTlsSocket(socket: object): void {
  (socket as Socket & { warrenTransport?: TransportKind }).warrenTransport = "tls";
}

export function transportOf(request: Pick<FastifyRequest, "raw">): TransportKind {
  const socket = request.raw.socket as
    | (Socket & { warrenTransport?: TransportKind; encrypted?: boolean })
    | null;
  // `encrypted` as well as the mark: if a future listener forgets to mark its sockets, a TLS
  // connection must still never be taken for the trusted local socket.
  return socket?.warrenTransport === "tls" || socket?.encrypted === true ? "tls" : "local";
}
