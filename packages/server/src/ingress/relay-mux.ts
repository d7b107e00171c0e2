// The gateway's end of `warren-relay listen` (runner/native/warren-relay.c): the relay accepts
// connections on a unix socket inside the environment and multiplexes them over its stdio as
// frames [u32 conn id][u8 type][u32 len][payload]; here each connection becomes a Duplex.
//
// Flow control is per relay, not per connection: when one connection's reader is full the whole
// relay's output is paused (and with it the process, through exec-duplex). The forwarded agent is
// request/response with small messages, so this costs nothing and keeps every buffer bounded.
import { Duplex } from "node:stream";
import type { ExecDuplex } from "./exec-duplex.ts";

/** The relay program, bound read-only into every environment (runner spec/defaults.ts RELAY_PATH_IN_CONTAINER). */
export const RELAY_IN_ENV = "/.warren/relay";

export const FrameType = { open: 1, data: 2, eof: 3, close: 4, ready: 5 } as const;
export const MAX_PAYLOAD = 65536;
/** As warren-relay's MAX_CONNS: connections open at once through one relay. */
export const MAX_CONNS = 64;
const HDR = 9;

export interface Frame {
  id: number;
  type: number;
  payload: Buffer;
}

export function encodeFrame(id: number, type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > MAX_PAYLOAD)
    throw new Error(`relay frame of ${payload.length} bytes (max ${MAX_PAYLOAD})`);
  const b = Buffer.allocUnsafe(HDR + payload.length);
  b.writeUInt32BE(id, 0);
  b.writeUInt8(type, 4);
  b.writeUInt32BE(payload.length, 5);
  b.set(payload, HDR);
  return b;
}

/**
 * Splits a byte stream into frames; throws on a frame larger than MAX_PAYLOAD (a broken relay).
 * The relay runs as the environment's user, so its output is untrusted: pieces are joined only
 * once a whole frame is there, so even a byte-at-a-time sender costs linear work.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Frame[] = [];
    while (this.size >= HDR) {
      if (this.chunks[0]!.length < HDR) this.join();
      const head = this.chunks[0]!;
      const len = head.readUInt32BE(5);
      if (len > MAX_PAYLOAD) throw new Error(`relay sent a frame of ${len} bytes (max ${MAX_PAYLOAD})`);
      if (this.size < HDR + len) break;
      const buf = head.length >= HDR + len ? head : this.join();
      out.push({
        id: buf.readUInt32BE(0),
        type: buf.readUInt8(4),
        payload: Buffer.from(buf.subarray(HDR, HDR + len)),
      });
      const rest = buf.subarray(HDR + len);
      this.chunks[0] = rest;
      this.size -= HDR + len;
      if (rest.length === 0) this.chunks.shift();
    }
    return out;
  }

  private join(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }
}

export interface RelayDemux {
  /** Resolves once the relay's socket is listening; rejects with the relay's own reason otherwise. */
  ready: Promise<void>;
  /** Connections currently open. */
  readonly open: number;
}

export function demuxRelay(
  proc: ExecDuplex,
  stderrText: () => string,
  onConnection: (c: Duplex) => void,
): RelayDemux {
  const conns = new Map<number, Duplex>();
  const blocked = new Set<number>();
  const decoder = new FrameDecoder();
  let ready!: { resolve(): void; reject(e: Error): void };
  const readyP = new Promise<void>((resolve, reject) => {
    ready = { resolve, reject };
  });
  readyP.catch(() => undefined);

  const send = (frame: Buffer, cb?: (err?: Error | null) => void) => {
    if (proc.stream.writableEnded || proc.stream.destroyed) return cb?.();
    proc.stream.write(frame, cb);
  };
  const unblock = (id: number) => {
    if (blocked.delete(id) && blocked.size === 0) proc.stream.resume();
  };

  const makeConn = (id: number): Duplex => {
    let relayClosed = false;
    const conn = new Duplex({
      allowHalfOpen: true,
      read() {
        unblock(id);
      },
      write(chunk: Buffer, _enc, cb) {
        if (relayClosed || chunk.length === 0) return cb();
        for (let off = 0; off < chunk.length; off += MAX_PAYLOAD) {
          const part = chunk.subarray(off, off + MAX_PAYLOAD);
          const last = off + MAX_PAYLOAD >= chunk.length;
          send(encodeFrame(id, FrameType.data, part), last ? () => cb() : undefined);
        }
      },
      final(cb) {
        if (!relayClosed) send(encodeFrame(id, FrameType.eof));
        cb();
      },
      destroy(err, cb) {
        if (!relayClosed) send(encodeFrame(id, FrameType.close));
        relayClosed = true;
        conns.delete(id);
        unblock(id);
        cb(err);
      },
    });
    // The relay closed it: let what it sent be read, then it is gone.
    conn.once("relay-close", () => {
      relayClosed = true;
      if (conn.readableEnded) conn.destroy();
      else {
        conn.once("end", () => conn.destroy());
        conn.push(null);
      }
    });
    return conn;
  };

  const onFrame = (f: Frame) => {
    if (f.type === FrameType.ready) return ready.resolve();
    if (f.type === FrameType.open) {
      // The relay runs as the environment's user, so its frames are held to its own bounds here too.
      if (conns.has(f.id) || conns.size >= MAX_CONNS) return send(encodeFrame(f.id, FrameType.close));
      const conn = makeConn(f.id);
      conns.set(f.id, conn);
      onConnection(conn);
      return;
    }
    const conn = conns.get(f.id);
    if (!conn) return;
    if (f.type === FrameType.data) {
      if (!conn.push(f.payload)) {
        blocked.add(f.id);
        proc.stream.pause();
      }
    } else if (f.type === FrameType.eof) conn.push(null);
    else if (f.type === FrameType.close) conn.emit("relay-close");
  };

  proc.stream.on("data", (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      proc.stream.destroy(err as Error);
      return;
    }
    for (const f of frames) onFrame(f);
  });
  const gone = () => {
    ready.reject(new Error(stderrText().trim() || "the relay inside the environment exited"));
    for (const c of conns.values()) c.destroy();
  };
  proc.stream.once("close", gone);
  proc.stream.once("end", gone);
  proc.stream.on("error", () => undefined);

  return {
    ready: readyP,
    get open() {
      return conns.size;
    },
  };
}
