// Authentication and the coarse authorization every route shares.
//
// Transport decides the default: root on the local unix socket (0600 in a 0700 directory, so only
// root can connect) acts as the bootstrap owner without a token. Every other transport needs
// `Authorization: Bearer wrn_...`. A request is remote when any of these holds:
//   1. the app was built with `transport: "tls"` (an app that serves only a TLS listener; tests
//      use it to simulate remote callers with inject());
//   2. transport.ts says so: the TLS listener marks its sockets (markTlsSocket), and any TLS
//      socket counts as remote even unmarked;
//   3. the request came over a real TCP socket (a net.Socket with a remote address): a
//      unix-socket connection never has one, so a mis-wired plain TCP listen stays fail-closed.
// A bearer token given on the local socket is honoured too, so `warren whoami` can test a token.
// Without an Authorization header, a remote request may carry the dashboard's session cookie,
// which counts only with its CSRF token and the dashboard's own Origin (http/dashboard-auth.ts).
//
// Runner tokens may call only /api/runner/v1/*, and user callers never may.
//
// Handlers pass the principal to every service call as its actor (`requestActor(req)`,
// services/actor.ts); nothing reads identity from ambient context.
import { Socket } from "node:net";
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor } from "../services/actor.ts";
import { type Caller, type IdentityService, LOCAL_ROOT, type Principal } from "../services/identity.ts";
import type { AuthFailureGuard } from "./auth-failures.ts";
import type { DashboardCookieAuth } from "./dashboard-auth.ts";
import { requireScopeAllows } from "./scopes.ts";
import { type TransportKind, transportOf } from "./transport.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the auth hook for every route but the public ones. */
    principal?: Principal;
  }
}

export const RUNNER_PREFIX = "/api/runner/";
/** Reachable without credentials on any transport: liveness only, nothing about environments. */
const PUBLIC = new Set(["/api/v1/health"]);
/** Sign-in (routes-auth.ts): the caller has no Warren token yet. */
const PUBLIC_PREFIX = "/api/v1/auth/";
const BLOB_URL_PREFIX = "/blob/v1/";
/** Fields the server sets; a client naming one in a body gets a 400 that names it. */
export const SERVER_ONLY_FIELDS = ["orgId", "runnerId", "owner", "privileged"] as const;

export function isLocalRequest(req: FastifyRequest, transport: TransportKind): boolean {
  if (transport === "tls" || transportOf(req) === "tls") return false;
  const s = req.raw.socket as Socket | null | undefined;
  return !(s instanceof Socket && s.remoteAddress !== undefined);
}

export function installAuth(
  app: FastifyInstance,
  o: {
    identity: IdentityService | undefined;
    transport: TransportKind;
    failures?: AuthFailureGuard;
    /** The dashboard's cookie sessions (http/dashboard-auth.ts); without it cookies are ignored. */
    dashboard?: DashboardCookieAuth | undefined;
  },
): void {
  app.decorateRequest("principal", undefined);

  app.addHook("onRequest", async (req, reply) => {
    const path = req.url.split("?", 1)[0] ?? "";
    const header = req.headers.authorization;
    let principal: Principal;
    if (header !== undefined) {
      // Failed tokens are limited per IP and audited (http/auth-failures.ts).
      o.failures?.check(req, reply);
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      try {
        if (!m?.[1])
          throw new WarrenError("UNAUTHENTICATED", 'the Authorization header must be "Bearer wrn_..."');
        if (!o.identity) throw new WarrenError("UNAUTHENTICATED", "this server does not accept tokens");
        principal = await o.identity.authenticate(m[1]);
      } catch (err) {
        o.failures?.failed(req, err);
        throw err;
      }
    } else if (isLocalRequest(req, o.transport)) {
      principal = LOCAL_ROOT;
    } else if (PUBLIC.has(path) || path.startsWith(PUBLIC_PREFIX) || path.startsWith(BLOB_URL_PREFIX)) {
      // Presigned blob URLs carry their own signature, checked by their route (blobstore/http-routes.ts).
      return;
    } else if (o.dashboard?.hasCookie(req)) {
      // The dashboard's session cookie, only with its CSRF token and the dashboard's Origin.
      principal = await o.dashboard.authenticate(req);
    } else {
      throw new WarrenError("UNAUTHENTICATED", "a bearer token is required (Authorization: Bearer wrn_...)");
    }
    const runnerRoute = path.startsWith(RUNNER_PREFIX);
    if (runnerRoute && principal.kind !== "runner") {
      throw new WarrenError("FORBIDDEN", "runner endpoints accept only runner tokens (wrn_r_...)");
    }
    if (!runnerRoute && principal.kind === "runner") {
      throw new WarrenError("FORBIDDEN", `runner tokens can call only ${RUNNER_PREFIX}v1 endpoints`);
    }
    requireScopeAllows(principal, req.method, path);
    req.principal = principal;
  });

  app.addHook("preValidation", async (req) => {
    const body = req.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return;
    for (const field of SERVER_ONLY_FIELDS) {
      if (Object.hasOwn(body, field)) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `field "${field}" is set by the server; remove it from the request`,
          {
            field,
          },
        );
      }
    }
  });
}

/** The actor a request's service calls act as: its authenticated principal, or 401. */
export function requestActor(req: FastifyRequest): Actor {
  const p = req.principal;
  if (!p)
    throw new WarrenError("UNAUTHENTICATED", "a bearer token is required (Authorization: Bearer wrn_...)");
  return p;
}

/** The user behind a request (routes outside the runner prefix always have one). */
export function callerOf(req: FastifyRequest): Caller {
  const p = req.principal;
  if (p?.kind !== "user") throw new WarrenError("UNAUTHENTICATED", "this endpoint needs a user");
  return p;
}
