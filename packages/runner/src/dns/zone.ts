// The internal zone (e.g. warren.internal). An environment may ask for its own name only:
// environments cannot reach each other, so handing out a neighbour's address would only leak
// who else runs on the host. Everything under the zone is answered here and never forwarded.
import net from "node:net";
import dnsPacket from "dns-packet";
import { optRecord, RCODE_NXDOMAIN, skipName } from "./wire.ts";

export interface OwnName {
  /** The environment's name, the label under the zone. */
  name: string;
  ip: string;
}

/** Seconds: short, because an environment's address can change when it is recreated. */
const TTL = 5;

export function zoneWire(zone: string): string {
  const labels = zone.toLowerCase().replace(/\.$/, "").split(".").filter(Boolean);
  if (labels.length === 0) throw new Error("dns zone must not be empty");
  const parts = labels.map((l) => {
    if (l.length > 63) throw new Error(`dns zone label too long: ${l}`);
    return String.fromCharCode(l.length) + l;
  });
  return parts.join("") + "\0";
}

/** A decoded-then-encoded answer; the internal zone is rare next to cache hits, so clarity wins. */
export function zoneAnswer(
  msg: Buffer,
  qEnd: number,
  zone: string,
  own: OwnName | undefined,
  dnssecOk: boolean | null,
): Buffer {
  const q = dnsPacket.decode(msg);
  const question = q.questions![0]!;
  const qname = question.name.toLowerCase().replace(/\.$/, "");
  const apex = zone.toLowerCase().replace(/\.$/, "");
  const soa: dnsPacket.Answer = {
    name: apex,
    type: "SOA",
    ttl: TTL,
    data: {
      mname: apex,
      rname: `hostmaster.${apex}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: TTL,
    },
  };
  const answers: dnsPacket.Answer[] = [];
  let rcode = 0;
  const ownName = own ? `${own.name.toLowerCase()}.${apex}` : undefined;
  const ip = own ? own.ip.replace(/^::ffff:(?=\d+\.)/, "") : "";
  if (qname === apex) {
    if (question.type === "SOA" || (question.type as string) === "ANY") answers.push(soa);
  } else if (qname === ownName) {
    const t = question.type as string;
    if (net.isIPv4(ip) && (t === "A" || t === "ANY"))
      answers.push({ name: qname, type: "A", ttl: TTL, data: ip });
    if (net.isIPv6(ip) && (t === "AAAA" || t === "ANY")) {
      answers.push({ name: qname, type: "AAAA", ttl: TTL, data: ip });
    }
  } else {
    rcode = RCODE_NXDOMAIN;
  }
  const out = dnsPacket.encode({
    id: q.id,
    type: "response",
    // AA: Warren is the authority for this zone. RD echoed, RA set (we do recurse for others).
    flags:
      dnsPacket.AUTHORITATIVE_ANSWER |
      dnsPacket.RECURSION_AVAILABLE |
      (q.flags! & dnsPacket.RECURSION_DESIRED),
    questions: [question],
    answers,
    authorities: answers.length === 0 ? [soa] : [],
  });
  out[3] = (out[3]! & 0xf0) | rcode;
  if (skipName(out, 12) + 4 === qEnd) msg.copy(out, 12, 12, qEnd);
  if (dnssecOk === null) return out;
  // dns-packet's OPT typing wants every field; the 11 fixed bytes are simpler.
  out.writeUInt16BE(1, 10);
  return Buffer.concat([out, optRecord(dnssecOk)]);
}
