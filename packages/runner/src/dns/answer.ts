// An upstream answer prepared once for serving many times: the OPT record taken out (EDNS is
// hop-by-hop; each client gets its own), TTLs clamped, and the offset of every TTL remembered so
// a cache hit is a copy plus a few 32-bit writes.
import { EDNS_UDP_SIZE, RCODE_NOERROR, RCODE_NXDOMAIN, skipName, TYPE_OPT, TYPE_SOA } from "./wire.ts";

export interface TtlPolicy {
  /** Lowest TTL served and cached, seconds (raises tiny TTLs; 0 keeps them as is). */
  minTtl: number;
  /** Highest TTL, seconds: nothing stays in the cache longer. */
  maxTtl: number;
  /** Highest TTL for negative answers (RFC 2308 suggests 1-3 hours at most). */
  maxNegativeTtl: number;
}

export interface Answer {
  /** The message with id 0 and no OPT record, TTLs already clamped. */
  pkt: Buffer;
  ttlOffsets: number[];
  ttls: number[];
  /** Clock time (ms) the TTLs count down from. */
  storedAt: number;
  /** Clock time (ms) this answer is no longer valid; <= storedAt means do not cache. */
  expiresAt: number;
  negative: boolean;
  /** The OPT record could not be removed cleanly and stays in `pkt`. */
  keepsOpt: boolean;
}

interface Rec {
  start: number;
  end: number;
  type: number;
  ttlOff: number;
  section: 0 | 1 | 2;
}

/** Reads an upstream response; null when it is malformed. */
export function prepareAnswer(resp: Buffer, now: number, policy: TtlPolicy): Answer | null {
  let off = skipName(resp, 12);
  if (off < 0) return null;
  off += 4;
  const counts = [resp.readUInt16BE(6), resp.readUInt16BE(8), resp.readUInt16BE(10)];
  const recs: Rec[] = [];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const n = skipName(resp, off);
      if (n < 0 || n + 10 > resp.length) return null;
      const end = n + 10 + resp.readUInt16BE(n + 8);
      if (end > resp.length) return null;
      recs.push({ start: off, end, type: resp.readUInt16BE(n), ttlOff: n + 4, section: s as 0 | 1 | 2 });
      off = end;
    }
  }
  const optIdx = recs.findIndex((r) => r.type === TYPE_OPT);
  let extRcode = 0;
  let pkt: Buffer;
  let keepsOpt = false;
  if (optIdx >= 0) {
    extRcode = resp[recs[optIdx]!.ttlOff]!;
    if (optIdx === recs.length - 1) {
      // Last record (the usual case): cut it off. Nothing can point into it.
      pkt = Buffer.from(resp.subarray(0, recs[optIdx]!.start));
      pkt.writeUInt16BE(counts[2]! - 1, 10);
      recs.pop();
    } else {
      // Removing a middle record would shift compression targets; leave it.
      pkt = Buffer.from(resp.subarray(0, off));
      keepsOpt = true;
    }
  } else {
    pkt = Buffer.from(resp.subarray(0, off));
  }
  pkt.writeUInt16BE(0, 0);
  const rcode = (pkt[3]! & 0x0f) | (extRcode << 4);
  const tc = (pkt[2]! & 0x02) !== 0;
  const negative = rcode === RCODE_NXDOMAIN || (rcode === RCODE_NOERROR && counts[0] === 0);
  const clamp = (t: number, max: number) => Math.min(max, Math.max(policy.minTtl, t));

  const ttlOffsets: number[] = [];
  const ttls: number[] = [];
  let life = Number.POSITIVE_INFINITY;
  let soaNeg = -1;
  for (const r of recs) {
    if (r.type === TYPE_OPT) continue;
    let ttl = pkt.readUInt32BE(r.ttlOff);
    if (ttl > 0x7fffffff) ttl = 0; // RFC 2181 8: treat the top bit as zero TTL
    if (negative && r.section === 1 && r.type === TYPE_SOA) {
      // RFC 2308 5: the negative TTL is min(SOA TTL, SOA MINIMUM), and the SOA is served with it.
      const rdEnd = r.end;
      const minimum = pkt.readUInt32BE(rdEnd - 4);
      ttl = clamp(Math.min(ttl, minimum), policy.maxNegativeTtl);
      soaNeg = soaNeg < 0 ? ttl : Math.min(soaNeg, ttl);
    } else {
      ttl = clamp(ttl, negative ? policy.maxNegativeTtl : policy.maxTtl);
      if (r.section === 0) life = Math.min(life, ttl);
    }
    pkt.writeUInt32BE(ttl, r.ttlOff);
    ttlOffsets.push(r.ttlOff);
    ttls.push(ttl);
  }
  // Only NOERROR with answers and NXDOMAIN/NODATA with an SOA are cacheable (RFC 2308 5: without
  // an SOA, negative answers SHOULD NOT be cached). Truncated answers never are.
  let ttl = 0;
  if (tc || (rcode !== RCODE_NOERROR && rcode !== RCODE_NXDOMAIN)) ttl = 0;
  else if (negative) ttl = Math.max(soaNeg, 0);
  else ttl = Number.isFinite(life) ? life : 0;
  return { pkt, ttlOffsets, ttls, storedAt: now, expiresAt: now + ttl * 1000, negative, keepsOpt };
}

/**
 * The answer for one client: its id, RD and question case (clients that randomise case, "0x20",
 * check it), TTLs counted down, its own OPT record, and TC when it will not fit its UDP size.
 */
export function render(
  a: Answer,
  msg: Buffer,
  qEnd: number,
  edns: { dnssecOk: boolean } | null,
  maxSize: number,
  now: number,
): Buffer {
  const addOpt = edns !== null && !a.keepsOpt;
  const len = a.pkt.length + (addOpt ? 11 : 0);
  if (len > maxSize) return truncated(a, msg, qEnd, edns);
  const out = Buffer.allocUnsafe(len);
  a.pkt.copy(out, 0);
  msg.copy(out, 0, 0, 2);
  msg.copy(out, 12, 12, qEnd);
  out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01);
  const elapsed = Math.floor((now - a.storedAt) / 1000);
  const offs = a.ttlOffsets;
  const ttls = a.ttls;
  for (let i = 0; i < offs.length; i++) {
    const t = ttls[i]! - elapsed;
    out.writeUInt32BE(Math.max(t, 0), offs[i]!);
  }
  if (addOpt) writeOpt(out, a.pkt.length, edns.dnssecOk, out.readUInt16BE(10) + 1);
  return out;
}

function truncated(a: Answer, msg: Buffer, qEnd: number, edns: { dnssecOk: boolean } | null): Buffer {
  const out = Buffer.allocUnsafe(qEnd + (edns ? 11 : 0));
  a.pkt.copy(out, 0, 0, 12);
  msg.copy(out, 0, 0, 2);
  msg.copy(out, 12, 12, qEnd);
  out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01) | 0x02;
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  if (edns) writeOpt(out, qEnd, edns.dnssecOk, 1);
  return out;
}

function writeOpt(out: Buffer, at: number, dnssecOk: boolean, arcount: number): void {
  out[at] = 0;
  out.writeUInt16BE(TYPE_OPT, at + 1);
  out.writeUInt16BE(EDNS_UDP_SIZE, at + 3);
  out.writeUInt32BE(dnssecOk ? 0x8000 : 0, at + 5);
  out.writeUInt16BE(0, at + 9);
  out.writeUInt16BE(arcount, 10);
}
