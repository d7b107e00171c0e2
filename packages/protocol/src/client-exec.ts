// Client side of exec over a WebSocket, framed as in exec-stream.ts. `ws` is imported lazily so
// commands that never exec don't pay for loading it.
import type { IncomingMessage } from "node:http";
import type { RawData, WebSocket } from "ws";
import { connectionError, errorFromResponse, type Transport } from "./client-transport.ts";
import { type ErrorBody, WarrenError } from "./errors.ts";
import {
  Channel,
  type ControlMessage,
  controlFrame,
  type ExecNotices,
  type ExecQuery,
  frame,
  parseFrame,
} from "./exec-stream.ts";
import type { ExecHandlers, ExecRequest, ExecSession } from "./runner.ts";

export function execQuery(req: ExecRequest): string {
  const q: ExecQuery = { cmd: JSON.stringify(req.cmd), tty: req.tty ? "1" : "0" };
  if (req.cols !== undefined) q.cols = String(req.cols);
  if (req.rows !== undefined) q.rows = String(req.rows);
  if (req.env && Object.keys(req.env).length > 0) q.env = JSON.stringify(req.env);
  if (req.cwd !== undefined) q.cwd = req.cwd;
  if (req.user !== undefined) q.user = req.user;
  return new URLSearchParams(Object.entries(q) as [string, string][]).toString();
}

export async function openExec(
  transport: Transport,
  path: string,
  req: ExecRequest,
  handlers: ExecHandlers & ExecNotices,
): Promise<ExecSession> {
  const { WebSocket } = await import("ws");
  const { url, options } = transport.webSocket(`${path}?${execQuery(req)}`);
  const ws = new WebSocket(url, { ...options, perMessageDeflate: false });
  return new Promise<ExecSession>((resolve, reject) => {
    let opened = false;
    let finished = false;
    let paused = false;
    // Exactly one of exit/error reaches the caller, whatever order the socket events come in.
    const finish = (outcome: { code: number } | { err: Error }) => {
      if (finished) return;
      finished = true;
      if ("code" in outcome) handlers.exit(outcome.code);
      else if (handlers.error) handlers.error(outcome.err);
      else handlers.exit(125); // no error callback: report it the way the CLI would
      ws.close();
    };

    ws.on("unexpected-response", (_req, res: IncomingMessage) => {
      // The daemon refused the upgrade with an ErrorBody (e.g. ENV_NOT_FOUND, ENV_NOT_RUNNING).
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        reject(errorFromResponse("exec", path, res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
        ws.terminate();
      });
    });
    ws.on("error", (err) => {
      const e = connectionError(err, transport);
      if (!opened) reject(e);
      else finish({ err: e });
    });
    ws.on("open", () => {
      opened = true;
      resolve(session(ws));
    });
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const buf = toBuffer(data);
      if (!isBinary && buf.length === 0) return;
      let channel: number;
      let body: Buffer;
      try {
        ({ channel, data: body } = parseFrame(buf));
      } catch {
        return;
      }
      let more: unknown;
      if (channel === Channel.stdout) more = handlers.stdout(body);
      else if (channel === Channel.stderr) more = handlers.stderr(body);
      // The terminal or pipe we write to is full: stop reading the socket, so the daemon's flow
      // control (flow-control.ts) pauses the command instead of this process buffering it all.
      if (more === false && handlers.whenWritable && !paused) {
        paused = true;
        ws.pause();
        void handlers.whenWritable().then(() => {
          paused = false;
          ws.resume();
        });
      } else if (channel === Channel.control) {
        let msg: ControlMessage;
        try {
          msg = JSON.parse(body.toString("utf8")) as ControlMessage;
        } catch {
          return finish({
            err: new WarrenError("INTERNAL", "exec: the daemon sent an invalid control frame"),
          });
        }
        if (msg.type === "exit") finish({ code: msg.code });
        else if (msg.type === "notice" && typeof msg.message === "string") handlers.notice?.(msg.message);
        else if (msg.type === "error") {
          finish({
            err: WarrenError.fromBody({ code: msg.code as ErrorBody["code"], message: msg.message }),
          });
        }
      }
    });
    ws.on("close", (code, reason) => {
      if (!opened) return; // the error/unexpected-response handlers already rejected
      const why = reason.length > 0 ? `: ${reason.toString("utf8")}` : ` (close code ${code})`;
      finish({
        err: new WarrenError("DAEMON_UNAVAILABLE", `exec: the stream closed before the command exited${why}`),
      });
    });
  });
}

function session(ws: WebSocket): ExecSession {
  // Sends after close are dropped: the command is gone, and late stdin must not crash the caller.
  const send = (buf: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(buf, { binary: true });
  };
  return {
    stdin: (data) => send(frame(Channel.stdin, data)),
    endStdin: () => send(controlFrame({ type: "eof" })),
    resize: (cols, rows) => send(controlFrame({ type: "resize", cols, rows })),
    signal: (sig) => send(controlFrame({ type: "signal", signal: sig })),
  };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
