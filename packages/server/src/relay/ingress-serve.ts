// The holding replica's end of ingress relays (relay/ingress-wire.ts): WebSocket upgrades on the
// internal listener (mutual TLS, so only a replica of this cluster gets here at all). Each call is
// decided before the upgrade from the store (relay/ingress-authorize.ts); a refusal is an HTTP
// answer with an ErrorBody, as the public API's. Then:
// - dial: the connection is made here, through the environment services with the re-read actor
//   (SSH `-L`) or, for the port proxy, to the port the visibility check allowed, and is bridged
//   with the port-forward framing (half-closes and backpressure included);
// - exec: the command runs through the environment services with the re-read actor, framed as
//   the public exec route frames it.
// Nothing here relays again: the calls reach this replica's own runner or fail with its 503.
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import {
  bridgeWebSocket,
  Channel,
  controlFrame,
  type ExecRequest,
  type ExecSession,
  flowGate,
  frame,
  type RunnerApi,
  WarrenError,
} from "@warren/protocol";
import type { FastifyBaseLogger } from "fastify";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { toErrorBody } from "../http/errors.ts";
import { handleFrame, parseExecQuery } from "../http/exec-ws.ts";
import { forwardDestination } from "../ingress/ssh-direct-tcpip.ts";
import type { EnvironmentService } from "../services/environments.ts";
import { checkProxyDial, type IngressAuthDeps, sshActorFor } from "./ingress-authorize.ts";
import { INGRESS_CALL_HEADER, INGRESS_PATH, type IngressCall, parseCall } from "./ingress-wire.ts";

export interface IngressServeDeps extends IngressAuthDeps {
  envs: Pick<EnvironmentService, "find" | "exec" | "dial">;
  /** This replica's runners (the hub): where a proxy dial the visibility allowed is made. */
  runner: Pick<RunnerApi, "dial">;
  logger: FastifyBaseLogger;
}

/** An upgrade handler for the internal listener; false when the request is not an ingress call. */
export type IngressUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Frames larger than this from a peer end the stream (exec frames are small; dial data is chunked). */
const MAX_FRAME = 1 << 20;

export function createIngressServer(d: IngressServeDeps): IngressUpgrade & { close(): void } {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_FRAME });
  const log = d.logger;

  const dial = async (call: IngressCall): Promise<Duplex> => {
    if (call.port === undefined) throw new WarrenError("INVALID_ARGUMENT", "a relayed dial must name a port");
    if (call.via === "proxy") {
      if (call.host !== undefined)
        throw new WarrenError("INVALID_ARGUMENT", "the port proxy dials only the environment's own ports");
      await checkProxyDial(d, call.caller, call.envId, call.port);
      return d.runner.dial(call.envId, call.port);
    }
    const actor = await sshActorFor(d, call.caller);
    const dest = forwardDestination(call.host ?? "localhost", call.port);
    if ("refused" in dest) throw new WarrenError("INVALID_ARGUMENT", dest.refused);
    return d.envs.dial(actor, call.envId, dest.port, dest.host);
  };

  const serve = async (req: IncomingMessage, socket: Duplex, head: Buffer, op: string): Promise<void> => {
    if (String(req.headers.upgrade ?? "").toLowerCase() !== "websocket")
      throw new WarrenError("INVALID_ARGUMENT", "ingress relays are WebSocket upgrades");
    const call = parseCall(req.headers[INGRESS_CALL_HEADER]);
    if (op === "dial") {
      const stream = await dial(call);
      if (socket.destroyed) return void stream.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => {
        void bridgeWebSocket(ws, stream);
      });
      return;
    }
    if (op !== "exec") throw new WarrenError("ENV_NOT_FOUND", `no ingress relay operation "${op}"`);
    if (call.via !== "ssh")
      throw new WarrenError("FORBIDDEN", "only SSH sessions run commands through a relay");
    const actor = await sshActorFor(d, call.caller);
    const url = new URL(req.url ?? "/", "https://relay.invalid");
    const execReq = parseExecQuery(Object.fromEntries(url.searchParams));
    // Visible to this actor (exec's rules) before anything is upgraded: a refusal stays an HTTP answer.
    await d.envs.find(actor, call.envId);
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) =>
      serveExec(ws, execReq, (r, h) => d.envs.exec(actor, call.envId, r, h), log),
    );
  };

  const handler: IngressUpgrade = (req, socket, head) => {
    const path = new URL(req.url ?? "/", "https://relay.invalid").pathname;
    if (!path.startsWith(INGRESS_PATH)) return false;
    socket.on("error", () => socket.destroy());
    serve(req, socket, head, path.slice(INGRESS_PATH.length)).catch((err: unknown) => {
      const { status, body, internal } = toErrorBody(err);
      if (internal) log.error({ err }, "ingress relay failed");
      else log.info({ code: body.code, why: body.message }, "ingress relay refused");
      refuse(socket, status, JSON.stringify(body));
    });
    return true;
  };
  return Object.assign(handler, { close: () => wss.close() });
}

function refuse(socket: Duplex, status: number, body: string): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      "Content-Type: application/json; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** As the public exec route bridges a session (http/exec-ws.ts), minus what the relaying side does. */
function serveExec(
  ws: WebSocket,
  req: ExecRequest,
  start: (r: ExecRequest, h: Parameters<EnvironmentService["exec"]>[3]) => Promise<ExecSession>,
  log: FastifyBaseLogger,
): void {
  let session: ExecSession | undefined;
  let exited = false;
  const early: Buffer[] = [];
  const gate = flowGate();
  const send = (buf: Buffer) => {
    if (ws.readyState === ws.OPEN) gate.send(buf.length, (done) => ws.send(buf, () => done()));
  };
  const kill = () => {
    if (session && !exited) session.signal(req.tty ? "SIGHUP" : "SIGKILL");
  };
  // Attached before the await: frames sent right after the upgrade must not be lost.
  ws.on("message", (data: RawData) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (session) handleFrame(session, buf, log, ws);
    else early.push(buf);
  });
  ws.on("close", kill);
  start(req, {
    stdout: (b) => send(frame(Channel.stdout, b)),
    stderr: (b) => send(frame(Channel.stderr, b)),
    exit: (code) => {
      exited = true;
      send(controlFrame({ type: "exit", code }));
      ws.close(1000);
    },
  }).then(
    (s) => {
      session = s;
      gate.source(s);
      if (ws.readyState !== ws.OPEN) kill();
      for (const b of early.splice(0)) handleFrame(s, b, log, ws);
    },
    (err: unknown) => {
      const { body, internal } = toErrorBody(err);
      if (internal) log.error({ err }, "relayed exec failed");
      send(controlFrame({ type: "error", code: body.code, message: body.message }));
      ws.close(1000);
    },
  );
}
