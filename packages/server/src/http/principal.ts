// The one place that names "who is calling" for per-caller state (idempotency keys, rate limits).
// - a caller with a token: the token's id;
// - root on the local unix socket (authenticated, no token): "local";
// - a caller that did not authenticate (the public sign-in routes): "anonymous:<client IP>". It
//   must never be "local": an anonymous remote caller would otherwise share root's Idempotency-Key
//   namespace and could replay root's answers by guessing a key.
import type { FastifyRequest } from "fastify";

export const LOCAL_PRINCIPAL = "local";

export function principalKey(req: FastifyRequest): string {
  const p = (req as FastifyRequest & { principal?: { tokenId?: string } }).principal;
  if (!p) return `anonymous:${req.ip ?? "unknown"}`;
  return p.tokenId ?? LOCAL_PRINCIPAL;
}

/** True for connections over the local unix socket, which only root (or the socket's group) can open. */
export function isUnixSocket(req: FastifyRequest): boolean {
  return req.socket.remoteAddress === undefined;
}
