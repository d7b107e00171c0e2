// Framing of an exec stream: [1 byte type][4 bytes big-endian length][payload]. Bytes travel as
// they are (no base64); the few control messages are small JSON payloads checked on arrival.
// The control plane sends REQUEST first and nothing else until the runner answers STARTED; the
// runner ends its side only after the control plane has ended its own (after EXIT or ERROR), so
// no HTTP/2 reset can cut output still in flight.
import type { Duplex } from "node:stream";

export const EXEC_FRAME = {
  // control plane → runner
  request: 1,
  stdin: 2,
  eof: 3,
  resize: 4,
  signal: 5,
  // runner → control plane
  started: 16,
  stdout: 17,
  stderr: 18,
  exit: 19,
  error: 20,
} as const;

/** Largest payload of one frame; senders split bigger writes, receivers refuse bigger frames. */
export const MAX_EXEC_PAYLOAD = 1024 * 1024;
const HEADER = 5;

export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Writes bytes as as many frames as their size needs; false when the stream asks to wait. */
export function writeBytes(stream: Duplex, type: number, data: Uint8Array): boolean {
  if (data.length === 0) return stream.write(encodeFrame(type));
  let ok = true;
  for (let at = 0; at < data.length; at += MAX_EXEC_PAYLOAD) {
    ok = stream.write(encodeFrame(type, data.subarray(at, at + MAX_EXEC_PAYLOAD))) && ok;
  }
  return ok;
}

export const jsonPayload = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), "utf8");

export class ExecFrameError extends Error {
  override name = "ExecFrameError";
}

export function parseJsonPayload(payload: Buffer, what: string): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    throw new ExecFrameError(`${what} is not valid JSON`);
  }
}

/** Splits a byte stream into frames; throws ExecFrameError on a frame past MAX_EXEC_PAYLOAD. */
export class FrameReader {
  #held: Buffer[] = [];
  #bytes = 0;
  push(chunk: Buffer, onFrame: (type: number, payload: Buffer) => void): void {
    this.#held.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes >= HEADER) {
      if ((this.#held[0] as Buffer).length < HEADER) this.#held = [Buffer.concat(this.#held, this.#bytes)];
      const first = this.#held[0] as Buffer;
      const len = first.readUInt32BE(1);
      if (len > MAX_EXEC_PAYLOAD)
        throw new ExecFrameError(`exec frame of ${len} bytes exceeds ${MAX_EXEC_PAYLOAD}`);
      if (this.#bytes < HEADER + len) return;
      const all = this.#held.length === 1 ? first : Buffer.concat(this.#held, this.#bytes);
      const type = all.readUInt8(0);
      const payload = all.subarray(HEADER, HEADER + len);
      const rest = all.subarray(HEADER + len);
      this.#held = rest.length ? [rest] : [];
      this.#bytes = rest.length;
      onFrame(type, payload);
    }
  }
}
