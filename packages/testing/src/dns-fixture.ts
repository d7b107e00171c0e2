// A stand-in upstream DNS server and a tiny client, all on 127.0.0.x with random ports: no
// query in these tests ever leaves the machine. The upstream counts what it is asked and can be
// told to truncate, delay, drop, SERVFAIL or answer NXDOMAIN with an SOA.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";

export interface Behaviour {
  /** Answer records for A queries (one per address). */
  a?: string[];
  ttl?: number;
  /** UDP answers are empty with TC set; TCP answers are complete. */
  tc?: boolean;
  nxdomain?: { soaTtl: number; minimum: number } | true;
  nodata?: { soaTtl: number; minimum: number };
  delayMs?: number;
  drop?: boolean;
  servfail?: boolean;
}

export interface StandIn {
  host: string;
  port: number;
  addr: string;
  /** Queries seen, per lowercased name, UDP and TCP together. */
  count(name: string): number;
  tcpCount(): number;
  total(): number;
  set(name: string, b: Behaviour): void;
  close(): Promise<void>;
}

/** 127.0.0.2-127.0.0.254: distinct hosts keep parallel test files apart beyond the port. */
export function loopbackHost(): string {
  return `127.0.0.${2 + Math.floor(Math.random() * 250)}`;
}

export async function startUpstream(defaults: Behaviour = {}): Promise<StandIn> {
  const host = loopbackHost();
  const zone = new Map<string, Behaviour>();
  const counts = new Map<string, number>();
  let tcpQueries = 0;
  let closed = false;

  function answer(msg: Buffer, tcp: boolean): Buffer | null {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    const name = question.name.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const b = { ...defaults, ...zone.get(name) };
    if (b.drop) return null;
    const base = { id: q.id, type: "response" as const, questions: q.questions };
    const soa = (s: { soaTtl: number; minimum: number }): dnsPacket.Answer => ({
      name: "test",
      type: "SOA",
      ttl: s.soaTtl,
      data: {
        mname: "ns.test",
        rname: "h.test",
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: s.minimum,
      },
    });
    let out: Buffer;
    if (b.servfail) {
      out = dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE });
      out[3] = (out[3]! & 0xf0) | 2;
    } else if (b.nxdomain) {
      const auth = b.nxdomain === true ? [] : [soa(b.nxdomain)];
      out = dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, authorities: auth });
      out[3] = (out[3]! & 0xf0) | 3;
    } else if (b.nodata) {
      out = dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, authorities: [soa(b.nodata)] });
    } else if (b.tc && !tcp) {
      out = dnsPacket.encode({
        ...base,
        flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.TRUNCATED_RESPONSE,
      });
    } else {
      const answers: dnsPacket.Answer[] =
        question.type === "A"
          ? (b.a ?? ["192.0.2.1"]).map((ip) => ({
              name: question.name,
              type: "A",
              ttl: b.ttl ?? 300,
              data: ip,
            }))
          : [];
      out = dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, answers });
    }
    return out;
  }

  const udp = dgram.createSocket("udp4");
  udp.on("message", (msg, r) => {
    const b = { ...defaults, ...zone.get(nameOf(msg)) };
    setTimeout(() => {
      const out = closed ? null : answer(msg, false);
      if (out) udp.send(out, r.port, r.address);
    }, b.delayMs ?? 0);
  });
  await new Promise<void>((res) => udp.bind(0, host, () => res()));
  const port = udp.address().port;
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((c) => {
    conns.add(c);
    c.on("close", () => conns.delete(c));
    c.on("error", () => {});
    let buf = Buffer.alloc(0);
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        tcpQueries++;
        const out = answer(m, true);
        if (out) c.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 255]), out]));
      }
    });
  });
  await new Promise<void>((res) => tcp.listen(port, host, () => res()));
  return {
    host,
    port,
    addr: `${host}:${port}`,
    count: (n) => counts.get(n.toLowerCase()) ?? 0,
    tcpCount: () => tcpQueries,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    set: (n, b) => zone.set(n.toLowerCase(), b),
    close: async () => {
      closed = true;
      for (const c of conns) c.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}

function nameOf(msg: Buffer): string {
  try {
    return dnsPacket.decode(msg).questions![0]!.name.toLowerCase();
  } catch {
    return "";
  }
}

export interface QueryOpts {
  type?: dnsPacket.RecordType;
  tcp?: boolean;
  edns?: boolean;
  timeoutMs?: number;
  /** Bind the client to this address, so the resolver sees it as the client IP. */
  from?: string;
}

export interface Reply {
  raw: Buffer;
  rcode: number;
  tc: boolean;
  packet: dnsPacket.DecodedPacket;
}

export function query(
  server: { host: string; port: number },
  name: string,
  o: QueryOpts = {},
): Promise<Reply> {
  const msg = dnsPacket.encode({
    id: Math.floor(Math.random() * 65536),
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: o.type ?? "A" }],
    ...(o.edns
      ? { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as dnsPacket.Answer] }
      : {}),
  });
  const parse = (raw: Buffer): Reply => ({
    raw,
    rcode: raw[3]! & 0x0f,
    tc: (raw[2]! & 0x02) !== 0,
    packet: dnsPacket.decode(raw),
  });
  return new Promise((resolve, reject) => {
    const timeout = o.timeoutMs ?? 3000;
    if (o.tcp) {
      const c = net.connect({ host: server.host, port: server.port, localAddress: o.from });
      const t = setTimeout(() => {
        c.destroy();
        reject(new Error(`tcp query ${name}: timeout`));
      }, timeout);
      let buf = Buffer.alloc(0);
      c.on("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
      c.on("connect", () => c.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 255]), msg])));
      c.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(t);
          c.destroy();
          resolve(parse(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        }
      });
      return;
    }
    const s = dgram.createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`udp query ${name}: timeout`));
    }, timeout);
    s.on("message", (raw) => {
      if (raw.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
      clearTimeout(t);
      s.close();
      resolve(parse(raw));
    });
    s.bind(0, o.from ?? "127.0.0.1", () => s.send(msg, server.port, server.host));
  });
}

/** TTLs of the answer records (or authority records when there are none). */
export function ttls(r: Reply): number[] {
  const recs = r.packet.answers?.length ? r.packet.answers : (r.packet.authorities ?? []);
  return recs.map((a) => (a as { ttl?: number }).ttl ?? -1);
}

export function addresses(r: Reply): string[] {
  return (r.packet.answers ?? []).filter((a) => a.type === "A").map((a) => (a as { data: string }).data);
}
