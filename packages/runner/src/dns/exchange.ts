// One query to one upstream server, over UDP or TCP, with a deadline. Each UDP exchange uses a
// fresh socket: a random source port plus a random id is what keeps off-path spoofing
// (Kaminsky) hard, and misses are rare enough that the extra socket does not matter.
import dgram from "node:dgram";
import net from "node:net";
import { FrameReader, frame } from "./framing.ts";
import { matchesQuery } from "./wire.ts";

export interface Upstream {
  host: string;
  port: number;
  /** As configured, for stats and messages. */
  label: string;
}

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" -> host and port. */
export function parseUpstream(s: string): Upstream {
  const t = s.trim();
  let host = t;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2]) port = Number(bracket[2]);
  } else if (net.isIPv4(t.split(":")[0]!) && t.includes(":")) {
    const [h, p] = t.split(":");
    host = h!;
    port = Number(p);
  }
  if (net.isIP(host.split("%")[0]!) === 0)
    throw new Error(`dns upstream ${JSON.stringify(s)}: not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`dns upstream ${JSON.stringify(s)}: bad port`);
  }
  return {
    host,
    port,
    label: port === 53 ? host : net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
  };
}

export function udpExchange(
  up: Upstream,
  query: Buffer,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(up.host.split("%")[0]!) ? "udp6" : "udp4");
    const timer = setTimeout(
      () => done(new Error(`udp ${up.label}: timeout after ${timeoutMs} ms`)),
      timeoutMs,
    );
    let settled = false;
    const onAbort = () => done(new Error(`udp ${up.label}: resolver closed`));
    signal?.addEventListener("abort", onAbort, { once: true });
    function done(err: Error | null, msg?: Buffer) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.close();
      if (err) reject(err);
      else resolve(msg!);
    }
    sock.on("error", (e) => done(new Error(`udp ${up.label}: ${e.message}`)));
    sock.on("message", (msg, rinfo) => {
      // Anything not from the server we asked, or not answering our question, is ignored: a
      // spoofer has to guess the port and id and still lose the race to the real answer.
      if (rinfo.port !== up.port || !sameHost(rinfo.address, up.host)) return;
      if (matchesQuery(msg, query)) done(null, msg);
    });
    sock.connect(up.port, up.host, () => {
      sock.send(query, (e) => {
        if (e) done(new Error(`udp ${up.label}: ${e.message}`));
      });
    });
  });
}

export function tcpExchange(
  up: Upstream,
  query: Buffer,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: up.host, port: up.port });
    const reader = new FrameReader();
    const timer = setTimeout(
      () => done(new Error(`tcp ${up.label}: timeout after ${timeoutMs} ms`)),
      timeoutMs,
    );
    let settled = false;
    const onAbort = () => done(new Error(`tcp ${up.label}: resolver closed`));
    signal?.addEventListener("abort", onAbort, { once: true });
    function done(err: Error | null, msg?: Buffer) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(msg!);
    }
    sock.on("error", (e) => done(new Error(`tcp ${up.label}: ${e.message}`)));
    sock.on("close", () => done(new Error(`tcp ${up.label}: closed before an answer`)));
    sock.on("connect", () => sock.write(frame(query)));
    sock.on("data", (chunk) => {
      for (const msg of reader.push(chunk)) if (matchesQuery(msg, query)) return done(null, msg);
    });
  });
}

function sameHost(a: string, b: string): boolean {
  return a === b || a === `::ffff:${b}` || a.split("%")[0] === b.split("%")[0];
}
