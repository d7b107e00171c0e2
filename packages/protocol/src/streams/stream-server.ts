// The runner's side of the stream transport: an HTTP/2 server session running over the
// WebSocket the runner dialled out on. The runner stays the HTTP/2 server even though it is the
// WebSocket client, so the control plane (the HTTP/2 client) opens streams and the runner never
// needs an inbound port. Each stream is one request; its kind picks a handler, and the handler
// gets the request stream itself as a Duplex of raw bytes.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { createWebSocketStream, type WebSocket } from "ws";
import {
  ERROR_CODE_HEADER,
  ERROR_DETAILS_HEADER,
  ERROR_HEADER,
  encodeDetails,
  parseRequestHeaders,
  STREAM_TRANSPORT_VERSION,
  StreamHeaderError,
  type StreamMeta,
  VERSION_HEADER,
} from "./stream-headers.ts";
import { CONNECTION_WINDOW, sessionSettings } from "./stream-settings.ts";

export type StreamHandler = (meta: StreamMeta, stream: Duplex) => void;

/**
 * A kind whose streams may be refused after a look at them (dial: nothing listens on the port).
 * `open` runs before the runner answers; a throw is the refusal (a WarrenError's status and code
 * travel back), and the function it resolves to gets the accepted stream.
 */
export interface StreamOpener {
  open(meta: StreamMeta): Promise<(stream: Duplex) => void>;
}

export interface ServeStreamsOptions {
  /** Only tests set this, to play a runner of another version. */
  version?: number;
  /** Told about refused streams and session errors; the transport never throws them. */
  onProblem?: (message: string) => void;
}

export interface StreamServer {
  session: http2.ServerHttp2Session;
  /** Resolves when the session and its WebSocket are gone. */
  closed: Promise<void>;
  close(): void;
}

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

export function serveStreams(
  ws: WebSocket,
  handlers: Record<string, StreamHandler | StreamOpener>,
  opts: ServeStreamsOptions = {},
): StreamServer {
  const version = opts.version ?? STREAM_TRANSPORT_VERSION;
  const problem = opts.onProblem ?? (() => {});
  const kinds = new Map(Object.entries(handlers));
  const socket = createWebSocketStream(ws);
  socket.on("error", (err) => problem(`stream transport socket: ${err.message}`));
  const session = http2.performServerHandshake(socket, {
    settings: sessionSettings(),
    maxHeaderListPairs: 64,
    maxSessionMemory: 64,
    // A peer that floods settings, pings or resets is cut off instead of costing memory.
    maxSettings: 32,
    maxOutstandingPings: 8,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    peerMaxConcurrentStreams: 1024,
  });
  session.on("error", (err) => problem(`stream session: ${err.message}`));
  session.on("frameError", (type, code) => problem(`stream session frame error: type ${type}, code ${code}`));
  // A large connection window, so the sum of many streams' windows is never what limits throughput;
  // each stream's own window (stream-settings.ts) is what a paused reader can hold up.
  session.setLocalWindowSize(CONNECTION_WINDOW);
  session.on("stream", (stream, headers) => {
    // A handler may not attach an error listener before the peer resets the stream.
    stream.on("error", (err) => problem(`stream: ${err.message}`));
    let kind: string;
    let meta: StreamMeta;
    try {
      ({ kind, meta } = parseRequestHeaders(headers, version));
    } catch (err) {
      const e = err instanceof StreamHeaderError ? err : new StreamHeaderError(400, String(err));
      return refuse(stream, e.status, e.message, version, problem);
    }
    const handler = kinds.get(kind);
    if (!handler) {
      const known = [...kinds.keys()].sort().join(", ") || "(none)";
      return refuse(
        stream,
        404,
        `unknown stream kind "${kind}"; this runner serves: ${known}`,
        version,
        problem,
      );
    }
    if (typeof handler !== "function") {
      handler.open(meta).then(
        (attach) => {
          if (stream.destroyed || stream.closed) {
            // The control plane gave up while it opened: the attach owns what open made.
            attach(stream);
            return;
          }
          stream.respond({ ":status": 200, [VERSION_HEADER]: String(version) });
          attach(stream);
        },
        (err: unknown) => {
          const e = err as { status?: unknown; code?: unknown; message?: unknown; details?: unknown };
          const status = typeof e.status === "number" && e.status >= 400 && e.status < 600 ? e.status : 500;
          const code = typeof e.code === "string" && /^[A-Z_]{1,40}$/.test(e.code) ? e.code : undefined;
          refuse(stream, status, String(e.message ?? err), version, problem, code, encodeDetails(e.details));
        },
      );
      return;
    }
    stream.respond({ ":status": 200, [VERSION_HEADER]: String(version) });
    try {
      handler(meta, stream);
    } catch (err) {
      problem(`stream handler "${kind}" threw: ${(err as Error).message}`);
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  });
  // Over a non-net Duplex, a session destroyed mid-handshake may never emit "close", nor its
  // stream wrapper, so the WebSocket's own close also counts; any one ends the others.
  const closed = new Promise<void>((resolve) => {
    session.once("close", () => resolve());
    socket.once("close", () => resolve());
    ws.once("close", () => resolve());
  });
  // Only the WebSocket's stream is destroyed here, never the session directly: Node's wrapper
  // for non-net streams asserts (an uncaught ERR_INTERNAL_ASSERTION) when a session is destroyed
  // while one of its writes is pending. Destroying the stream cancels that write, and the session
  // then tears itself down.
  void closed.then(() => socket.destroy());
  return {
    session,
    closed,
    close() {
      session.close();
      socket.end();
    },
  };
}

function refuse(
  stream: http2.ServerHttp2Stream,
  status: number,
  message: string,
  version: number,
  problem: (m: string) => void,
  code?: string,
  details?: string,
): void {
  problem(`refused stream (${status}): ${message}`);
  if (stream.destroyed || stream.closed) return;
  // Header values must be printable; a message quoting hostile input was already bounded by the
  // validators, and this strips anything that slipped through rather than throwing.
  const safe = message.replace(/[^\x20-\x7e]/g, "?").slice(0, 2048);
  stream.respond(
    {
      ":status": status,
      [VERSION_HEADER]: String(version),
      [ERROR_HEADER]: safe,
      ...(code ? { [ERROR_CODE_HEADER]: code } : {}),
      ...(details ? { [ERROR_DETAILS_HEADER]: details } : {}),
    },
    { endStream: true },
  );
}
