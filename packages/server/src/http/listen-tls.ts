// The remote listener: TCP with TLS only, serving the SAME fastify app as the unix socket (one
// build(), two servers), so routes, hooks and error handling cannot drift between them.
import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { loadOrCreateCertificate } from "./tls-cert.ts";
import { markTlsSocket } from "./transport.ts";

export interface TlsListenOptions {
  host: string;
  port: number;
  cert: Buffer;
  key: Buffer;
}

export interface TlsListener {
  server: Server;
  /** The bound address (port 0 resolves to the real one). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(spec.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid listen address ${JSON.stringify(spec)}: expected HOST:PORT, e.g. 0.0.0.0:7443`);
  }
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export async function listenTls(app: FastifyInstance, o: TlsListenOptions): Promise<TlsListener> {
  await app.ready(); // app.routing and the websocket upgrade handler exist only once it is ready
  const server = createServer({ cert: o.cert, key: o.key, minVersion: "TLSv1.2" }, (req, res) =>
    app.routing(req, res),
  );
  const sockets = new Set<Duplex>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  // Marked at the handshake, before any HTTP byte is parsed, so no request can be seen unmarked.
  server.on("secureConnection", markTlsSocket);
  // @fastify/websocket handles upgrades on app.server; hand it ours so exec works over wss too.
  server.on("upgrade", (req, socket, head) => app.server.emit("upgrade", req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const address =
    typeof addr === "object" && addr !== null
      ? { host: addr.address, port: addr.port }
      : { host: o.host, port: o.port };
  return {
    server,
    address,
    // Called after app.close() has ended streams and exec sessions gracefully: whatever is still
    // open (idle keep-alive, upgraded sockets the http server no longer tracks) is cut.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * The daemon's remote listener, when `listen` is set: its certificate (the operator's, or one
 * made and kept under ROOT/tls), the listener, and the fingerprint remote users pin, logged.
 * The app is closed if listening fails, so a failed start leaves nothing open.
 */
export async function listenTlsFromOptions(
  app: FastifyInstance,
  o: { listen?: string | undefined; root: string; tlsCert?: string | undefined; tlsKey?: string | undefined },
  log: { info(obj: object, msg?: string): void },
): Promise<{ listener: TlsListener; info: { host: string; port: number; fingerprint: string } } | undefined> {
  if (o.listen === undefined) return undefined;
  const where = parseListen(o.listen);
  const material = await loadOrCreateCertificate({
    root: o.root,
    listenHost: where.host,
    certPath: o.tlsCert,
    keyPath: o.tlsKey,
  });
  let listener: TlsListener;
  try {
    listener = await listenTls(app, { ...where, cert: material.cert, key: material.key });
  } catch (err) {
    await app.close();
    throw err;
  }
  // The fingerprint is what remote users pin: `warren login https://HOST:PORT --fingerprint F`.
  log.info(
    {
      ...listener.address,
      fingerprint: material.fingerprint,
      cert: material.certPath,
      generated: material.generated,
    },
    `warren daemon listening on TLS; certificate SHA-256 fingerprint ${material.fingerprint}`,
  );
  return { listener, info: { ...listener.address, fingerprint: material.fingerprint } };
}
