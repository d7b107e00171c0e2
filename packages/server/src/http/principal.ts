// The one place that names "who is calling" for per-caller state (idempotency keys, rate limits).
// Auth may attach `request.principal` later; until then, and for root on the local unix socket,
// every caller is "local".
import type { FastifyRequest } from "fastify";

export const LOCAL_PRINCIPAL = "local";

export function principalKey(req: FastifyRequest): string {
  const p = (req as FastifyRequest & { principal?: { tokenId?: string } }).principal;
  return p?.tokenId ?? LOCAL_PRINCIPAL;
}

/** True for connections over the local unix socket, which only root (or the socket's group) can open. */
export function isUnixSocket(req: FastifyRequest): boolean {
  return req.socket.remoteAddress === undefined;
}
