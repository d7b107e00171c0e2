// One forwarded TCP connection over one WebSocket (GET /api/v1/environments/:name/port-forward),
// the same code at both ends: the CLI bridges the laptop's accepted socket, the control plane the
// connection its runner dialled inside the environment.
//
// Framing: binary frames carry the connection's bytes as they are. One text frame {"type":"eof"}
// says the sender's side finished writing (a TCP half-close: `curl -T`, `nc -N`), so the other
// direction keeps flowing until it ends too. A normal close (1000) follows when both directions
// ended; any other close code ends the connection at once, and its reason says why (1011 for a
// failure on the far side, 4401/4403 for a revoked credential). Errors before any byte flows (an
// unknown environment, nothing listening on the port) never reach a WebSocket: the upgrade is
// refused with an HTTP error and an ErrorBody, like every other API call.
//
// Backpressure both ways: bytes read from the stream are counted until the WebSocket wrote them
// out (flow-control.ts pauses the stream past FLOW_HIGH), and a stream that refuses a write pauses
// the WebSocket, so TCP's own flow control reaches the sender at the far end.
import type { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";
import { flowGate } from "./flow-control.ts";

export const PORT_FORWARD_EOF = '{"type":"eof"}';
/** Close code for a failure at one end (the dialled connection reset, a local socket error). */
export const PORT_FORWARD_FAILED = 1011;

export interface BridgeResult {
  /** Bytes read from the stream and sent over the WebSocket. */
  sent: number;
  /** Bytes received over the WebSocket and written to the stream. */
  received: number;
  /** Why it ended, when not both ways cleanly: a close reason from the peer or a local error. */
  error?: string;
  closeCode?: number;
}

/** A graceful end that the far side never finishes reading is cut off after this long. */
const FLUSH_GRACE_MS = 30_000;

export function bridgeWebSocket(ws: WebSocket, stream: Duplex): Promise<BridgeResult> {
  const result: BridgeResult = { sent: 0, received: 0 };
  const gate = flowGate();
  let streamEnded = false;
  let wsClosed = false;
  let streamClosed = false;
  let waitingForDrain = false;

  // A stream that ends or closes never emits 'drain' again: the WebSocket must not stay paused,
  // or it would never read the close handshake.
  const unpause = () => {
    if (!waitingForDrain) return;
    waitingForDrain = false;
    ws.resume();
  };
  const closeWs = (code: number, reason: string) => {
    if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(code, truncate(reason));
  };

  return new Promise<BridgeResult>((resolve) => {
    const settle = () => {
      if (wsClosed && streamClosed) resolve(result);
    };

    gate.source(stream);
    stream.on("data", (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      result.sent += chunk.length;
      gate.send(chunk.length, (done) => ws.send(chunk, { binary: true }, () => done()));
    });
    stream.on("end", () => {
      streamEnded = true;
      if (ws.readyState === ws.OPEN) ws.send(PORT_FORWARD_EOF, { binary: false });
    });
    stream.on("error", (err: Error) => {
      result.error ??= err.message;
      closeWs(PORT_FORWARD_FAILED, err.message);
    });
    stream.on("finish", unpause);
    stream.on("close", () => {
      streamClosed = true;
      unpause();
      // Everything the stream had was sent: a clean close. A stream torn down mid-way is a reset.
      if (streamEnded) closeWs(1000, "");
      else closeWs(PORT_FORWARD_FAILED, result.error ?? "connection reset");
      settle();
    });

    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        if (data.toString() === PORT_FORWARD_EOF) {
          stream.end();
          unpause();
        }
        return;
      }
      // Bytes after the sender's own EOF: nowhere to put them.
      if (stream.writableEnded) return;
      const buf = toBuffer(data);
      result.received += buf.length;
      if (!stream.write(buf) && !waitingForDrain) {
        waitingForDrain = true;
        ws.pause();
        stream.once("drain", unpause);
      }
    });
    ws.on("error", (err: Error) => {
      result.error ??= err.message;
    });
    ws.on("close", (code: number, reason: Buffer) => {
      wsClosed = true;
      if (code !== 1000 && code !== 1005) {
        result.closeCode = code;
        result.error ??= reason.length > 0 ? reason.toString("utf8") : `closed with code ${code}`;
        stream.destroy();
      } else if (!stream.destroyed) {
        // The peer finished: let what was written reach the far end, then let go.
        if (stream.writableFinished) stream.destroy();
        else {
          stream.end();
          const cut = setTimeout(() => stream.destroy(), FLUSH_GRACE_MS);
          cut.unref();
          stream.once("close", () => clearTimeout(cut));
          stream.once("finish", () => stream.destroy());
        }
      }
      settle();
    });
    stream.resume();
  });
}

/** WebSocket close reasons are at most 123 bytes. */
function truncate(reason: string): string {
  const buf = Buffer.from(reason, "utf8");
  return buf.length <= 123 ? reason : `${buf.subarray(0, 120).toString("utf8")}...`;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
