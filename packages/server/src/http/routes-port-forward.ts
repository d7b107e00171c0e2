// Port-forward over a WebSocket: one upgrade per forwarded TCP connection, bytes as binary frames
// (framing in protocol port-forward-stream.ts). Everything that can refuse a forward happens before
// the upgrade, in a preHandler, so a refusal is an ordinary HTTP error with an ErrorBody (the CLI
// shows its message): a bad port, an environment the caller may not see (ENV_NOT_FOUND, the same as
// an unknown one), one they may not start, a start that does not finish in time (TIMEOUT), nothing
// listening on the port (DIAL_FAILED). A stopped environment the caller may start is started first.
// The connection is made from inside the environment's network namespace by its runner, so
// 127.0.0.1 is the environment's own. A forward is a live session: revoking the token that opened
// it closes the WebSocket with 4401 and resets the connection.
import { isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { API_PREFIX, bridgeWebSocket, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

export const PortForwardQuery = Type.Object({
  port: Type.String({ pattern: "^[0-9]{1,5}$", description: "TCP port inside the environment, 1-65535." }),
  host: Type.Optional(
    Type.String({
      maxLength: 64,
      description:
        "IP literal to connect to from inside the environment; default 127.0.0.1 (its own loopback).",
    }),
  ),
});

/** The dialled connection between the preHandler and the upgraded socket's handler. */
const dialled = new WeakMap<FastifyRequest, Duplex>();

export function portForwardRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: NameParams }>(
    `${API_PREFIX}/environments/:name/port-forward`,
    {
      websocket: true,
      schema: {
        operationId: "portForward",
        tags: ["environments"],
        summary: "Forward one TCP connection to a port inside an environment, over a WebSocket.",
        description:
          "A GET with `Upgrade: websocket`, answered 101 Switching Protocols once the connection to " +
          "`host:port` inside the environment is made (a stopped environment the caller may start is " +
          "started first, for up to 60 s). Binary frames carry the bytes both ways; a text frame " +
          '{"type":"eof"} is a half-close of its sender\'s direction; close 1000 ends it normally, 1011 ' +
          "when the connection failed (the reason says why), 4401/4403 when the credential was revoked. " +
          "One WebSocket per TCP connection. Refusals come before the upgrade as an HTTP error with an " +
          "ErrorBody.",
        params: NameParams,
        // Documented only: the preHandler checks it so the error names the field.
        "x-query": PortForwardQuery,
        response: {
          101: { description: "Switching Protocols: the connection's bytes follow on the WebSocket." },
          ...errors(
            "INVALID_ARGUMENT",
            "ENV_NOT_FOUND",
            "ENV_NOT_RUNNING",
            "ENV_FAILED",
            "NAME_CONFLICT",
            "QUOTA_EXCEEDED",
            "TIMEOUT",
            "DIAL_FAILED",
            "RUNNER_UNAVAILABLE",
          ),
        },
      },
      preHandler: async (req) => {
        if (!req.ws) {
          throw new WarrenError(
            "INVALID_ARGUMENT",
            "port-forward is a WebSocket: send the GET with `Upgrade: websocket` (`warren port-forward` does)",
          );
        }
        const { port, host } = parsePortForwardQuery(req.query);
        const actor = requestActor(req);
        const name = req.params.name;
        // A client that gives up while the environment starts stops the wait.
        const gone = new AbortController();
        const onGone = () => gone.abort();
        // The upgrade's connection (absent under fastify's injectWS in tests).
        const conn = req.raw.socket as Socket | undefined;
        conn?.once("close", onGone);
        try {
          await deps.wake.wake(actor, name, { signal: gone.signal });
          const stream = await deps.envs.dial(actor, name, port, host);
          if (gone.signal.aborted) {
            stream.destroy();
            throw new WarrenError("DAEMON_UNAVAILABLE", "the client left before the forward opened");
          }
          dialled.set(req, stream);
          // Until the handler takes it: a failed upgrade must not leave the connection open.
          conn?.once("close", () => {
            if (dialled.get(req) === stream) stream.destroy();
          });
        } finally {
          conn?.off("close", onGone);
        }
      },
    },
    (socket, req) => bridgePortForward(socket, req, deps),
  );
}

export function parsePortForwardQuery(query: unknown): { port: number; host?: string } {
  if (!Value.Check(PortForwardQuery, query)) {
    const first = [...Value.Errors(PortForwardQuery, query)][0];
    const field = first?.path.replace(/^\//, "") || "port";
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid port-forward query field "${field}": ${first?.message ?? "invalid"}; pass ?port=N (1-65535) and optionally &host=IP`,
      { field },
    );
  }
  const port = Number(query.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid port ${query.port}: a TCP port is 1-65535`, {
      field: "port",
    });
  }
  if (query.host === undefined) return { port };
  if (isIP(query.host) === 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid host "${query.host}": give an IP address (e.g. 127.0.0.1); names are not resolved`,
      { field: "host" },
    );
  }
  return { port, host: query.host };
}

function bridgePortForward(socket: WebSocket, req: FastifyRequest, deps: HttpDeps): void {
  const stream = dialled.get(req);
  dialled.delete(req);
  if (!stream) {
    socket.close(1011, "the forwarded connection was not made");
    return;
  }
  // Without a principal (never past the auth hook) there is nothing to revoke.
  const live =
    req.principal &&
    deps.sessions.open("port-forward", req.principal, (why) => {
      socket.close(why.closeCode, why.closeReason);
      stream.destroy();
    });
  const started = Date.now();
  void bridgeWebSocket(socket, stream).then((r) => {
    live?.close();
    req.log.debug(
      { env: (req.params as NameParams).name, sent: r.sent, received: r.received, ms: Date.now() - started },
      r.error ? `port-forward ended: ${r.error}` : "port-forward ended",
    );
  });
}
