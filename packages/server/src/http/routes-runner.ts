// The runner protocol over HTTP (/api/runner/v1, runner tokens only: http/auth.ts). A runner dials
// out and upgrades GET /api/runner/v1/connect to a WebSocket; after its hello the control plane
// calls the RunnerApi over it (protocol runner-wire.ts, server runners/hub.ts). Not under /api/v1,
// so not in the user API's OpenAPI document: it is a separate API with separate tokens.
import {
  keepAlive,
  parseWireFrame,
  RUNNER_CONNECT_PATH,
  RUNNER_WIRE_VERSION,
  type RunnerFrame,
  WarrenError,
  wsConn,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { RunnerHub } from "../runners/hub.ts";

/** A runner that does not say hello in this long is dropped. */
const HELLO_TIMEOUT_MS = 10_000;

export function runnerRoutes(app: FastifyInstance, hub: RunnerHub | undefined): void {
  app.get("/api/runner/v1/ping", (req) => ({ ok: true, orgId: req.principal?.orgId }));

  app.get(RUNNER_CONNECT_PATH, { websocket: true }, (socket, req) => {
    const p = req.principal;
    const fail = (code: number, message: string) => {
      req.log.warn({ message }, "runner connection refused");
      socket.close(code, message.slice(0, 120));
    };
    if (p?.kind !== "runner") return fail(1008, "runner tokens only");
    if (!hub) {
      return fail(
        1008,
        "this daemon runs its runner in-process (embedded mode); remote runners connect to `warren server`",
      );
    }
    keepAlive(socket);
    const conn = wsConn(socket);
    let said = false;
    const timer = setTimeout(() => said || fail(1008, "no hello within 10 s"), HELLO_TIMEOUT_MS);
    socket.once("close", () => clearTimeout(timer));
    conn.onMessage((text) => {
      if (said) return; // after hello, frames belong to the RemoteRunner
      said = true;
      clearTimeout(timer);
      let f: RunnerFrame;
      try {
        f = parseWireFrame<RunnerFrame>(text);
      } catch (err) {
        return fail(1002, `bad hello: ${(err as Error).message}`);
      }
      if (f.t !== "hello") return fail(1002, `expected hello, got ${f.t}`);
      if (f.version !== RUNNER_WIRE_VERSION) {
        return fail(
          1002,
          `runner protocol version ${f.version} is not ${RUNNER_WIRE_VERSION}; upgrade the runner`,
        );
      }
      hub.attach(conn, { runnerId: p.tokenId, orgId: p.orgId, info: f.info }).catch((err: unknown) => {
        const msg = err instanceof WarrenError || err instanceof Error ? err.message : String(err);
        fail(1011, `runner attach failed: ${msg}`);
      });
    });
  });
}
