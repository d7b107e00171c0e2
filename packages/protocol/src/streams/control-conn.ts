// The control stream of a runner link: the JSON frames of runner-wire.ts on one HTTP/2 stream,
// each a 4-byte big-endian length then UTF-8 JSON. Closing it closes the whole link (the
// WebSocket) with a code and reason, so a peer that breaks the protocol loses its link, as when
// frames travelled on the WebSocket itself, and its other streams go with it.
import {
  closeReason,
  MAX_WIRE_FRAME,
  VIOLATION_CLOSE_CODES,
  WIRE_CLOSE,
  type WireConn,
} from "../runner-wire.ts";

/** The WebSocket the link runs on, as far as the control stream needs it. */
export interface LinkSocket {
  close(code?: number, reason?: string): void;
  terminate?(): void;
  once(ev: "close", cb: (code: number, reason: Buffer) => void): unknown;
}

/** The control stream, as far as this needs it (an HTTP/2 stream; the fuzzers' fake). */
export interface ControlStream {
  on(ev: "data", cb: (chunk: Buffer) => void): unknown;
  on(ev: "error", cb: (err: Error) => void): unknown;
  once(ev: "close", cb: () => void): unknown;
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
}

export interface ControlConnHooks {
  /** This end closed the link because the peer broke the protocol (a VIOLATION_CLOSE_CODES close). */
  onViolation?(code: number, reason: string): void;
}

const HEADER = 4;

export function controlConn(stream: ControlStream, ws: LinkSocket, hooks: ControlConnHooks = {}): WireConn {
  let closing = false;
  let onText: ((text: string) => void) | undefined;
  let held: Buffer[] = [];
  let heldBytes = 0;

  const close = (code?: number, reason?: string) => {
    const first = !closing;
    closing = true;
    const why = closeReason(reason);
    if (first && code !== undefined && VIOLATION_CLOSE_CODES.has(code)) hooks.onViolation?.(code, why);
    try {
      ws.close(code, why);
    } catch {
      ws.terminate?.();
    }
  };

  const take = (n: number): Buffer => {
    const all = held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held, heldBytes);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    held = rest.length ? [rest] : [];
    heldBytes = rest.length;
    return out;
  };

  stream.on("data", (chunk: Buffer) => {
    if (closing) return; // frames after this end closed are not read
    held.push(chunk);
    heldBytes += chunk.length;
    while (heldBytes >= HEADER && !closing) {
      // Peek at the length without consuming, so a big frame arriving in many chunks is joined once.
      if ((held[0] as Buffer).length < HEADER) held = [Buffer.concat(held, heldBytes)];
      const len = (held[0] as Buffer).readUInt32BE(0);
      if (len > MAX_WIRE_FRAME) {
        close(WIRE_CLOSE.tooBig, `bad frame: frame of ${len} bytes exceeds ${MAX_WIRE_FRAME}`);
        return;
      }
      if (heldBytes < HEADER + len) return; // the rest is still on its way
      onText?.(
        take(HEADER + len)
          .subarray(HEADER)
          .toString("utf8"),
      );
    }
  });
  // The control stream ending while its link stays up leaves calls that can never be answered.
  stream.once("close", () => {
    if (!closing) close(WIRE_CLOSE.protocol, "bad frame: the control stream ended before the link");
  });
  stream.on("error", () => {}); // its close follows, handled above

  return {
    send(text, sent) {
      const body = Buffer.from(text, "utf8");
      const head = Buffer.allocUnsafe(HEADER);
      head.writeUInt32BE(body.length, 0);
      stream.write(Buffer.concat([head, body]), sent ? () => sent() : undefined);
    },
    onMessage(cb) {
      onText = cb;
    },
    onClose(cb) {
      ws.once("close", (code, reason) => {
        closing = true;
        cb(`${code}${reason.length ? ` ${reason.toString()}` : ""}`);
      });
    },
    close,
  };
}
