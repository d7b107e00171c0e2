// WebSocket upgrades at the port proxy. The handshake goes through the same routing, visibility,
// session and Origin checks as any request (ingress/http-proxy-route.ts); it is then forwarded on
// a connection of its own (an upgraded connection never returns to a pool), and once the app
// answers 101 both sides are joined as a byte pipe. Only `Upgrade: websocket` is proxied.
import http, { type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { EnvWaker } from "../services/env-wake.ts";
import type { ProxyObserver } from "./http-proxy-contracts.ts";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./http-proxy-headers.ts";
import { badHostPage, type ProxyPage, sendPageOnSocket, wakeFailedPage } from "./http-proxy-pages.ts";
import { addressOf, authorize, type RouteDeps } from "./http-proxy-route.ts";
import type { Dial } from "./http-proxy-upstream.ts";

export interface UpgradeContext {
  deps: RouteDeps;
  dial: Dial;
  wake: EnvWaker;
  scheme: "http" | "https";
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  errorPage: (err: unknown, r: { port: number; target: { envName: string } }) => ProxyPage;
  observer?: ProxyObserver | undefined;
}

const REASON_101 = "HTTP/1.1 101 Switching Protocols\r\n";

export async function proxyUpgrade(c: UpgradeContext): Promise<void> {
  const { req, socket } = c;
  const upgrade = req.headers.upgrade ?? "";
  if (upgrade.toLowerCase() !== "websocket") {
    return sendPageOnSocket(
      socket,
      badHostPage(`only WebSocket upgrades are proxied, not ${JSON.stringify(upgrade)}`),
    );
  }
  const a = addressOf(req, c.deps.baseDomain);
  if ("kind" in a) return sendPageOnSocket(socket, a.page, a.headers);
  const r = await authorize(c.deps, req, a);
  if (r.kind === "page") return sendPageOnSocket(socket, r.page, r.headers);
  if (r.asleep && r.actor) {
    // No page can be shown to a WebSocket client: it is held, then joined, or told why not.
    const ac = new AbortController();
    socket.once("close", () => ac.abort());
    try {
      await c.wake.wake(r.actor, r.target.envId, { signal: ac.signal });
    } catch (err) {
      return sendPageOnSocket(
        socket,
        wakeFailedPage(r.target.envName, err instanceof Error ? err.message : String(err)),
      );
    }
  }
  let upstream: Duplex;
  try {
    upstream = await c.dial(r.target.envId, r.port, r.actor);
  } catch (err) {
    return sendPageOnSocket(socket, c.errorPage(err, r));
  }
  if (socket.destroyed) return void upstream.destroy();
  const headers = upstreamRequestHeaders(
    req.rawHeaders,
    { clientIp: req.socket.remoteAddress ?? "unknown", scheme: c.scheme, host: a.host },
    upgrade,
  );
  const up = http.request({
    // No agent: node then takes the connection from createConnection (agent: false would dial TCP).
    createConnection: () => upstream as never,
    method: req.method ?? "GET",
    path: req.url,
    headers,
  });
  c.observer?.request(r.target.envId);
  socket.once("close", () => up.destroy());
  up.on("error", (err) => {
    if (!socket.destroyed) sendPageOnSocket(socket, c.errorPage(err, r));
    upstream.destroy();
  });
  up.on("upgrade", (ures, usock: Duplex, uhead: Buffer) => {
    // A WebSocket lives as long as the session that opened it.
    if (r.sessionId !== undefined) {
      const unsubscribe = c.deps.auth.onSessionEnd?.(r.sessionId, () => socket.destroy());
      if (unsubscribe) socket.once("close", unsubscribe);
    }
    const lines = downstreamResponseHeaders(ures.rawHeaders, a.hostname)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(
      `${REASON_101}connection: Upgrade\r\nupgrade: ${ures.headers.upgrade ?? upgrade}\r\n${lines}\r\n`,
    );
    if (uhead.length > 0) socket.write(uhead);
    if (c.head.length > 0) usock.write(c.head);
    usock.on("error", () => socket.destroy());
    socket.on("error", () => usock.destroy());
    usock.once("close", () => socket.destroy());
    socket.once("close", () => usock.destroy());
    observe(c.observer, r.target.envId, socket, usock, c.head.length, uhead.length);
    usock.pipe(socket);
    socket.pipe(usock);
  });
  up.on("response", (ures) => {
    // The app declined the upgrade: pass its answer on and close (the connection was the handshake's).
    const lines = downstreamResponseHeaders(ures.rawHeaders, a.hostname)
      .filter(([k]) => k.toLowerCase() !== "content-length")
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(
      `HTTP/1.1 ${ures.statusCode ?? 502} ${ures.statusMessage ?? ""}\r\n${lines}connection: close\r\n\r\n`,
    );
    ures.pipe(socket);
  });
  up.end();
}

/** Counts a joined WebSocket and its bytes (the handshake's leftovers included) until it closes. */
function observe(
  o: ProxyObserver | undefined,
  envId: string,
  client: Duplex,
  app: Duplex,
  clientHead: number,
  appHead: number,
): void {
  if (!o) return;
  const closed = o.websocketOpened(envId);
  client.once("close", closed);
  o.bytes(envId, "to_env", clientHead);
  o.bytes(envId, "from_env", appHead);
  client.on("data", (b: Buffer) => o.bytes(envId, "to_env", b.length));
  app.on("data", (b: Buffer) => o.bytes(envId, "from_env", b.length));
}
