// DNS over TCP puts a two-byte length before each message (RFC 1035 4.2.2). Chunks arrive in
// arbitrary pieces, so this collects them and hands out whole messages.

export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  /** Appends a chunk and returns every message now complete. */
  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    while (this.#buf.length - off >= 2) {
      const len = this.#buf.readUInt16BE(off);
      if (this.#buf.length - off - 2 < len) break;
      out.push(this.#buf.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    this.#buf = off === 0 ? this.#buf : this.#buf.subarray(off);
    return out;
  }
}

export function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}
