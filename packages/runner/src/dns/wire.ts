// Raw DNS wire helpers for the hot path. A cache hit must not pay for a full dns-packet
// decode/encode, so queries are read and answers patched in place with offsets only.
// dns-packet is used where speed does not matter (internal zone answers, tests).

export const TYPE_SOA = 6;
export const TYPE_OPT = 41;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

/** Payload size Warren advertises upstream and to clients (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;

export interface Query {
  id: number;
  /** End of the (single) question: header + qname + qtype + qclass. */
  qEnd: number;
  /** End of the qname (start of qtype). */
  nameEnd: number;
  rd: boolean;
  cd: boolean;
  /** EDNS from the client's OPT record, or null when it sent none. */
  edns: { udpSize: number; dnssecOk: boolean } | null;
  /** Cache key: lowercased question bytes plus one byte for the DO/CD bits (they change answers). */
  key: string;
}

/** Why a query could not be parsed: drop it silently, or answer with an rcode. */
export type QueryError = { drop: true } | { drop: false; rcode: number; qEnd: number };

// One scratch buffer is enough: the event loop handles one packet at a time.
const scratch = Buffer.allocUnsafe(512);

/** Offset after the name at `off`, following no pointers (compressed names end at the pointer). */
export function skipName(buf: Buffer, off: number): number {
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off]!;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if (len > 63) return -1;
    off += len + 1;
  }
}

/** Offset after the resource record at `off`, or -1 when it runs past the end. */
export function skipRecord(buf: Buffer, off: number): number {
  const n = skipName(buf, off);
  if (n < 0 || n + 10 > buf.length) return -1;
  const end = n + 10 + buf.readUInt16BE(n + 8);
  return end <= buf.length ? end : -1;
}

/** Like skipName, but a pointer is an error: a query's name has nothing before it to point at. */
function plainNameEnd(buf: Buffer, off: number): number {
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off]!;
    if (len === 0) return off + 1;
    if (len > 63) return -1;
    off += len + 1;
  }
}

export function parseQuery(msg: Buffer): Query | QueryError {
  if (msg.length < 12 || (msg[2]! & 0x80) !== 0) return { drop: true };
  const opcode = (msg[2]! >> 3) & 0x0f;
  const qd = msg.readUInt16BE(4);
  if (qd !== 1) return { drop: false, rcode: RCODE_FORMERR, qEnd: 12 };
  const nameEnd = plainNameEnd(msg, 12);
  if (nameEnd < 0 || nameEnd + 4 > msg.length) return { drop: false, rcode: RCODE_FORMERR, qEnd: 12 };
  const qEnd = nameEnd + 4;
  if (opcode !== 0) return { drop: false, rcode: RCODE_NOTIMP, qEnd };
  let edns: Query["edns"] = null;
  const extra = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  let off = qEnd;
  for (let i = 0; i < extra; i++) {
    const n = skipName(msg, off);
    const end = skipRecord(msg, off);
    if (end < 0) return { drop: false, rcode: RCODE_FORMERR, qEnd };
    if (msg.readUInt16BE(n) === TYPE_OPT) {
      edns = { udpSize: Math.max(512, msg.readUInt16BE(n + 2)), dnssecOk: (msg[n + 6]! & 0x80) !== 0 };
    }
    off = end;
  }
  const cd = (msg[3]! & 0x10) !== 0;
  // Lowercase only the name bytes: length bytes are < 64 so never hit A-Z, and qtype must not
  // change (qtype 65 is HTTPS, byte 0x41 is "A").
  const qlen = qEnd - 12;
  for (let i = 0; i < qlen; i++) {
    const b = msg[12 + i]!;
    scratch[i] = i < nameEnd - 12 && b >= 65 && b <= 90 ? b | 32 : b;
  }
  scratch[qlen] = (edns?.dnssecOk ? 1 : 0) | (cd ? 2 : 0);
  return {
    id: msg.readUInt16BE(0),
    qEnd,
    nameEnd,
    rd: (msg[2]! & 0x01) !== 0,
    cd,
    edns,
    key: scratch.toString("latin1", 0, qlen + 1),
  };
}

export function isQueryError(q: Query | QueryError): q is QueryError {
  return (q as QueryError).drop !== undefined;
}

/** The OPT record Warren puts in its own messages: root name, type 41, our payload size. */
export function optRecord(dnssecOk: boolean): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(EDNS_UDP_SIZE, 3);
  if (dnssecOk) b[7] = 0x80;
  return b;
}

/** A header-and-question reply with `rcode` (and TC when truncating), echoing the client's id. */
export function shortReply(msg: Buffer, qEnd: number, rcode: number, opts: { tc?: boolean } = {}): Buffer {
  const q = parseEdnsLoose(msg, qEnd);
  const opt = q ? optRecord(q.dnssecOk) : null;
  const out = Buffer.allocUnsafe(qEnd + (opt ? 11 : 0));
  msg.copy(out, 0, 0, qEnd);
  out[2] = 0x80 | (msg[2]! & 0x79) | (opts.tc ? 0x02 : 0); // QR, opcode, RD
  out[3] = 0x80 | (msg[3]! & 0x10) | rcode; // RA, CD
  out.writeUInt16BE(qEnd > 12 ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  if (opt) opt.copy(out, qEnd);
  return out;
}

function parseEdnsLoose(msg: Buffer, qEnd: number): { dnssecOk: boolean } | null {
  if (qEnd <= 12 || msg.length <= qEnd || msg.readUInt16BE(10) === 0) return null;
  const q = parseQuery(msg);
  return isQueryError(q) ? null : q.edns;
}

/** The upstream query for a key: our own id, RD, the lowercased question, and an OPT record. */
export function upstreamQuery(key: string, id: number): Buffer {
  const qlen = key.length - 1;
  const bits = key.charCodeAt(qlen);
  const out = Buffer.allocUnsafe(12 + qlen + 11);
  out.writeUInt16BE(id, 0);
  out[2] = 0x01; // RD
  out[3] = bits & 2 ? 0x10 : 0; // CD
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(1, 10);
  out.write(key, 12, qlen, "latin1");
  optRecord((bits & 1) !== 0).copy(out, 12 + qlen);
  return out;
}

/** True when `resp` answers `query` (same id, a response, the same question ignoring case). */
export function matchesQuery(resp: Buffer, query: Buffer): boolean {
  if (resp.length < 12 || resp.readUInt16BE(0) !== query.readUInt16BE(0) || (resp[2]! & 0x80) === 0) {
    return false;
  }
  if (resp.readUInt16BE(4) !== 1) return false;
  const nameEnd = plainNameEnd(query, 12);
  if (resp.length < nameEnd + 4) return false;
  for (let i = 12; i < nameEnd; i++) {
    let a = resp[i]!;
    if (a >= 65 && a <= 90) a |= 32;
    if (a !== query[i]) return false;
  }
  return resp.readUInt32BE(nameEnd) === query.readUInt32BE(nameEnd);
}
