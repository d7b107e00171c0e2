// Server sockets: UDP datagrams and length-prefixed TCP streams, both reduced to
// "a message from a client IP, and how to answer it", so the resolver has one code path.
import dgram from "node:dgram";
import net from "node:net";
import { FrameReader, frame } from "./framing.ts";

export type Reply = (msg: Buffer) => void;
export type OnMessage = (msg: Buffer, clientIp: string, reply: Reply) => void;

export interface Listener {
  kind: "udp" | "tcp";
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Client addresses as the runner knows them: IPv4-mapped IPv6 reduced to plain IPv4. */
function plainIp(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

function literalLookup(
  address: string,
  _opts: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  cb(null, address, net.isIPv6(address) ? 6 : 4);
}

export function udpListener(host: string, port: number, onMessage: OnMessage): Promise<Listener> {
  return new Promise((resolve, reject) => {
    // A bigger receive buffer absorbs bursts (many environments starting at once); the kernel
    // caps it at net.core.rmem_max.
    const sock = dgram.createSocket({
      type: net.isIPv6(host) ? "udp6" : "udp4",
      recvBufferSize: 4 << 20,
      // Replies go to the literal address a datagram came from; the default lookup would
      // still defer each send by a tick to "resolve" it.
      lookup: literalLookup,
    });
    sock.once("error", reject);
    sock.on("message", (msg, rinfo) => {
      const port = rinfo.port;
      const addr = rinfo.address;
      onMessage(msg, plainIp(addr), (out) => sock.send(out, port, addr));
    });
    sock.bind(port, host, () => {
      sock.removeListener("error", reject);
      // A send error for one client (e.g. EPERM from a firewall) must not kill the server.
      sock.on("error", () => {});
      resolve({
        kind: "udp",
        host,
        port: sock.address().port,
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}

export function tcpListener(
  host: string,
  port: number,
  idleMs: number,
  onMessage: OnMessage,
): Promise<Listener> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    const reader = new FrameReader();
    const ip = plainIp(c.remoteAddress ?? "");
    c.setNoDelay(true);
    c.setTimeout(idleMs, () => c.destroy());
    c.on("error", () => c.destroy());
    c.on("close", () => conns.delete(c));
    c.on("data", (chunk) => {
      // Answers may go out of order (RFC 7766 6.2.1.1): clients match them by id.
      for (const m of reader.push(chunk)) {
        onMessage(m, ip, (out) => {
          if (!c.destroyed) c.write(frame(out));
        });
      }
    });
  });
  server.maxConnections = 1024;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.removeListener("error", reject);
      const a = server.address() as net.AddressInfo;
      resolve({
        kind: "tcp",
        host,
        port: a.port,
        close: () =>
          new Promise<void>((r) => {
            for (const c of conns) c.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
