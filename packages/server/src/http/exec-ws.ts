// exec over a WebSocket (framing in protocol exec-stream.ts). The command's own exit status
// travels as {type:"exit"}; Warren's failures travel as {type:"error"} so the CLI can exit 125.
// An exec is a live session (services/live-sessions.ts): when the credential that opened it is
// revoked or expires, or its user leaves the organisation, the command is killed, an error frame
// says why, and the socket closes with 4401/4403; no output frame follows. The dashboard opens it
// with subprotocols ["warren.exec", "csrf.<token>"] (http/dashboard-auth.ts); the server answers
// "warren.exec", and signing out of the dashboard ends the session the same way.
import { constants } from "node:os";
import { Value } from "@sinclair/typebox/value";
import {
  API_PREFIX,
  Channel,
  type ControlMessage,
  checkExecCwd,
  checkExecEnv,
  controlFrame,
  type ExecRequest,
  type ExecSession,
  flowGate,
  frame,
  parseExecUser,
  parseFrame,
  SESSION_CLOSE,
  WarrenError,
} from "@warren/protocol";
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import type { RawData, WebSocket } from "ws";
import { activitySource } from "../services/activity.ts";
import { auditExec } from "./audit-hook.ts";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { onDashboardSessionEnd } from "./dashboard-auth.ts";
import { toErrorBody } from "./errors.ts";
import { ExecQuery, flag, NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

export function execRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: NameParams }>(
    `${API_PREFIX}/environments/:name/exec`,
    {
      websocket: true,
      schema: {
        operationId: "exec",
        tags: ["environments"],
        summary: "Run a command in a running environment, over a WebSocket.",
        description:
          "A GET with `Upgrade: websocket`, answered 101 Switching Protocols. Frames are binary: one " +
          "channel byte (0 stdin, 1 stdout, 2 stderr, 3 control JSON) then data (protocol exec-stream.ts). " +
          "The command's exit status arrives as control {type:'exit',code}; Warren's failures, including a " +
          "bad query or a missing environment, as control {type:'error',code,message} with an " +
          "ErrorCode, then the socket closes. A stopped environment the caller may start is started " +
          "first (up to 60 s, then a TIMEOUT error); while it starts a control {type:'notice',message} " +
          "says so.",
        params: NameParams,
        // Documented only: the handler checks the query itself so a bad one is reported in-band.
        "x-query": ExecQuery,
        response: {
          101: { description: "Switching Protocols: the exec stream follows on the WebSocket." },
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    (socket, req) => bridgeExec(socket, req.params.name, req, deps),
  );
}

export function parseExecQuery(query: unknown): ExecRequest {
  if (!Value.Check(ExecQuery, query)) {
    const first = [...Value.Errors(ExecQuery, query)][0];
    const field = first?.path.replace(/^\//, "") || "query";
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid exec query field "${field}": ${first?.message ?? "invalid"}`,
      {
        field,
      },
    );
  }
  let cmd: unknown;
  try {
    cmd = JSON.parse(query.cmd);
  } catch {
    cmd = undefined;
  }
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === "string")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      'exec "cmd" must be a JSON array of strings with at least one element',
      {
        field: "cmd",
      },
    );
  }
  const req: ExecRequest = { cmd, tty: flag(query.tty, false) };
  if (query.cols) req.cols = Number(query.cols);
  if (query.rows) req.rows = Number(query.rows);
  if (query.env !== undefined) req.env = parseEnvParam(query.env);
  if (query.cwd !== undefined) req.cwd = checkExecCwd(query.cwd);
  if (query.user !== undefined) {
    parseExecUser(query.user);
    req.user = query.user;
  }
  return req;
}

function parseEnvParam(text: string): Record<string, string> {
  let env: unknown;
  try {
    env = JSON.parse(text);
  } catch {
    env = undefined;
  }
  if (
    typeof env !== "object" ||
    env === null ||
    Array.isArray(env) ||
    !Object.values(env).every((v) => typeof v === "string")
  ) {
    throw new WarrenError("INVALID_ARGUMENT", 'exec "env" must be a JSON object of string values', {
      field: "env",
    });
  }
  return checkExecEnv(env as Record<string, string>);
}

function bridgeExec(socket: WebSocket, name: string, httpReq: FastifyRequest, deps: HttpDeps): void {
  const { query, log } = httpReq;
  let session: ExecSession | undefined;
  let exited = false;
  let tty = false;
  let revoked = false;
  const early: Buffer[] = [];
  const gate = flowGate();
  const send = (buf: Buffer) => {
    if (revoked) return;
    if (socket.readyState === socket.OPEN) gate.send(buf.length, (done) => socket.send(buf, () => done()));
  };
  const kill = () => {
    if (session && !exited) session.signal(tty ? "SIGHUP" : "SIGKILL");
  };
  // Without a principal start() below answers in-band; there is nothing to revoke.
  const live =
    httpReq.principal &&
    deps.sessions.open("exec", httpReq.principal, (why) => {
      send(controlFrame({ type: "error", code: why.code, message: why.message }));
      revoked = true;
      kill();
      socket.close(why.closeCode, why.closeReason);
    });

  // A dashboard session's sign-out ends its terminals too (revocation already does, above).
  const signedOut = onDashboardSessionEnd(httpReq, (why) => {
    send(controlFrame({ type: "error", code: "UNAUTHENTICATED", message: `${why}; this session is closed` }));
    revoked = true;
    // Closed before the kill: a command that exits at once must not close it as a normal exit.
    socket.close(SESSION_CLOSE.unauthenticated, "dashboard session ended");
    kill();
  });

  // Idle stop: input and output both count as use (memory only; services/activity.ts batches writes).
  let touch: (() => void) | undefined;
  let disconnect: (() => void) | undefined;

  // Handlers are attached before any await: frames sent right after the upgrade would be lost.
  socket.on("message", (data: RawData) => {
    if (revoked) return;
    touch?.();
    const buf = toBuffer(data);
    if (session) handleFrame(session, buf, log, socket);
    else early.push(buf);
  });
  // Waking a stopped environment can take a while; a client that leaves stops the wait.
  const gone = new AbortController();
  socket.on("close", () => {
    gone.abort();
    live?.close();
    signedOut?.();
    disconnect?.();
    // Nobody can read the output any more: hang up a terminal like ssh does; kill the rest.
    kill();
  });

  const start = async () => {
    const req = parseExecQuery(query);
    tty = req.tty;
    const actor = requestActor(httpReq);
    // A stopped environment the caller may start is started, and the command waits for it.
    const woke = await deps.wake.wake(actor, name, {
      signal: gone.signal,
      onWait: (env) => send(controlFrame({ type: "notice", message: `starting ${env.name}…` })),
    });
    if (revoked || socket.readyState !== socket.OPEN) return;
    if (deps.activity) {
      const activity = deps.activity;
      const source = activitySource(actor);
      touch = () => activity.record(woke.id, "terminal", source);
      // The stop warning reaches this terminal as a notice.
      disconnect = activity.connected(woke.id, source, (message) =>
        send(controlFrame({ type: "notice", message })),
      );
      touch();
    }
    // An interactive session is an attach: postAttachCommand runs beside it, never before it.
    if (req.tty) deps.setups?.attached(woke.id);
    session = await deps.envs.exec(actor, name, req, {
      stdout: (d) => {
        touch?.();
        send(frame(Channel.stdout, d));
      },
      stderr: (d) => {
        touch?.();
        send(frame(Channel.stderr, d));
      },
      exit: (code) => {
        exited = true;
        send(controlFrame({ type: "exit", code }));
        socket.close(1000);
      },
    });
    gate.source(session);
    if ((revoked || socket.readyState !== socket.OPEN) && !exited) session.signal(tty ? "SIGHUP" : "SIGKILL");
    for (const buf of early.splice(0)) if (!revoked) handleFrame(session, buf, log, socket);
    // After the early frames are flushed: awaiting before that would let later frames overtake them.
    await auditExec(deps.audit, httpReq, name, { status: 200 });
  };
  start().catch((err: unknown) => {
    const { status, body, internal } = toErrorBody(err);
    if (internal) log.error({ err }, "exec failed");
    void auditExec(deps.audit, httpReq, name, { status, code: body.code });
    send(controlFrame({ type: "error", code: body.code, message: body.message }));
    socket.close(1000);
    // A client that never answers the close handshake must not hold the socket for ws's 30 s.
    setTimeout(() => {
      if (socket.readyState !== socket.CLOSED) socket.terminate();
    }, CLOSE_GRACE_MS).unref();
  });
}

const CLOSE_GRACE_MS = 2000;

/** One frame from the client: stdin (with backpressure) or a control message. */
export function handleFrame(
  session: ExecSession,
  buf: Buffer,
  log: FastifyBaseLogger,
  socket: WebSocket,
): void {
  let channel: number;
  let data: Buffer;
  try {
    ({ channel, data } = parseFrame(buf));
  } catch {
    return;
  }
  if (channel === Channel.stdin) {
    // The command reads slower than the client sends: stop reading the socket (TCP then pushes
    // back on the client) until its stdin drains, instead of buffering input here.
    if (session.stdin(data) === false && session.whenStdinWritable) {
      socket.pause();
      session.whenStdinWritable().then(
        () => socket.resume(),
        () => socket.resume(),
      );
    }
    return;
  }
  if (channel !== Channel.control) {
    log.debug({ channel }, "exec frame on an unknown channel ignored");
    return;
  }
  let msg: ControlMessage;
  try {
    msg = JSON.parse(data.toString("utf8")) as ControlMessage;
  } catch {
    log.debug({}, "malformed exec control frame ignored");
    return;
  }
  switch (msg.type) {
    case "resize":
      if (Number.isInteger(msg.cols) && Number.isInteger(msg.rows)) session.resize(msg.cols, msg.rows);
      break;
    case "eof":
      session.endStdin();
      break;
    case "signal":
      if (typeof msg.signal === "string" && msg.signal in constants.signals)
        session.signal(msg.signal as NodeJS.Signals);
      break;
    default:
      log.debug({ type: msg.type }, "exec control message from the client ignored");
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
