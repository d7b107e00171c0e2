// The control plane's side of the stream transport: an HTTP/2 client session running over the
// WebSocket a runner dialled in on. `openStream` is one HTTP/2 request whose headers name the
// stream's kind and metadata; once the runner answers 200, the request stream is the caller's
// Duplex of raw bytes, with HTTP/2's per-stream flow control.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { createWebSocketStream, type WebSocket } from "ws";
import {
  decodeDetails,
  ERROR_CODE_HEADER,
  ERROR_DETAILS_HEADER,
  ERROR_HEADER,
  requestHeaders,
  STREAM_TRANSPORT_VERSION,
  type StreamMeta,
  VERSION_HEADER,
} from "./stream-headers.ts";
import { CONNECTION_WINDOW, sessionSettings } from "./stream-settings.ts";

export interface StreamClientOptions {
  /** Only tests set this, to play a control plane of another version. */
  version?: number;
  onProblem?: (message: string) => void;
}

export interface StreamClient {
  session: http2.ClientHttp2Session;
  /**
   * Opens a stream of `kind` on the runner, resolving once the runner accepts it. End the
   * returned Duplex's writable side as soon as there is nothing more to send (at once, for a
   * stream that only reads): once the runner has ended its side, nghttp2 resets a stream whose
   * request side is still open (RST_STREAM NO_ERROR), and Node then reports a premature close if
   * response bytes are still buffered unread.
   */
  openStream(kind: string, meta?: StreamMeta): Promise<Duplex>;
  /** Resolves when the session and its WebSocket are gone. */
  closed: Promise<void>;
  close(): void;
}

/** A stream the runner refused or could not open; `status` is the runner's HTTP status (0: none). */
export class StreamOpenError extends Error {
  readonly status: number;
  /** The runner's catalog code for the refusal (protocol errors.ts), when it sent one. */
  readonly code: string | undefined;
  readonly details: Record<string, string | number> | undefined;
  constructor(status: number, message: string, code?: string, details?: Record<string, string | number>) {
    super(message);
    this.name = "StreamOpenError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function createStreamClient(ws: WebSocket, opts: StreamClientOptions = {}): StreamClient {
  const version = opts.version ?? STREAM_TRANSPORT_VERSION;
  const problem = opts.onProblem ?? (() => {});
  const socket = createWebSocketStream(ws);
  socket.on("error", (err) => problem(`stream transport socket: ${err.message}`));
  // The authority is never resolved or dialled: createConnection hands over the WebSocket.
  const session = http2.connect("http://runner.invalid", {
    createConnection: () => socket,
    settings: sessionSettings(),
    maxSessionMemory: 64,
    maxOutstandingPings: 8,
  });
  session.on("error", (err) => problem(`stream session: ${err.message}`));
  session.setLocalWindowSize(CONNECTION_WINDOW);
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

  function openStream(kind: string, meta: StreamMeta = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (session.closed || session.destroyed)
        return reject(
          new StreamOpenError(0, `cannot open stream "${kind}": the runner's connection is closed`),
        );
      let stream: http2.ClientHttp2Stream;
      try {
        // Validates kind and meta, throwing a StreamHeaderError that says what to fix.
        const headers = requestHeaders(kind, meta, version);
        stream = session.request(headers, { endStream: false });
      } catch (err) {
        return reject(err);
      }
      const fail = (err: Error) => {
        stream.destroy();
        reject(err);
      };
      const closedEarly = () =>
        fail(
          new StreamOpenError(
            0,
            `stream "${kind}" closed before the runner answered (code ${stream.rstCode})`,
          ),
        );
      stream.once("error", fail);
      stream.once("close", closedEarly);
      stream.once("response", (headers) => {
        stream.removeListener("error", fail);
        stream.removeListener("close", closedEarly);
        const status = Number(headers[":status"]);
        if (status === 200) {
          // Later errors belong to the caller; until it listens, they must not crash the process.
          stream.on("error", (err) => problem(`stream "${kind}": ${err.message}`));
          return resolve(stream);
        }
        const why = headers[ERROR_HEADER];
        const code = headers[ERROR_CODE_HEADER];
        const runnerVersion = headers[VERSION_HEADER];
        stream.destroy();
        reject(
          new StreamOpenError(
            status,
            typeof why === "string"
              ? why
              : `runner refused stream "${kind}" with status ${status} (runner transport v${runnerVersion ?? "?"})`,
            typeof code === "string" ? code : undefined,
            decodeDetails(headers[ERROR_DETAILS_HEADER]),
          ),
        );
      });
    });
  }

  return {
    session,
    openStream,
    closed,
    close() {
      session.close();
      socket.end();
    },
  };
}
