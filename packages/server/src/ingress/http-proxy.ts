// The port proxy: an HTTP/1.1 reverse proxy in the control-plane process that serves
// `<port>--<env>--<org>.<base-domain>` (ingress/port-host.ts) from apps inside environments,
// reached through their runner (RunnerApi.dial), never through host networking. The control
// plane's own host on the same listener (`warren.<base-domain>`, or an IP literal) is handed to
// its API and dashboard instead (control-host.ts).
//
// Requests are parsed by node's strict parser only (never insecureHTTPParser): a request it
// refuses is answered 400 and its connection closed, so nothing after an ambiguous frame can be
// smuggled to an app. What goes upstream is re-framed from what the proxy parsed (method, path,
// cleaned headers, body by its parsed length or re-chunked), never the client's bytes. Bodies
// stream both ways; WebSocket upgrades are handed over as byte pipes after the handshake.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { type HttpProxyInfo, isWarrenError } from "@warren/protocol";
import type { Logger } from "../logger.ts";
import type { EnvWaker } from "../services/env-wake.ts";
import type { PortTargetLookup } from "../services/port-targets.ts";
import {
  type ControlPlaneHost,
  isControlRequest,
  serveControlHost,
  upgradeControlHost,
} from "./control-host.ts";
import {
  type HoldForWake,
  noActivity,
  noSignIn,
  type ProxyActivity,
  type ProxyAuth,
  type ProxyObserver,
  type ProxyPorts,
  privatePorts,
} from "./http-proxy-contracts.ts";
import { bodyFraming, downstreamResponseHeaders, upstreamRequestHeaders } from "./http-proxy-headers.ts";
import {
  nothingListensPage,
  type ProxyPage,
  rawStatus,
  sendPage,
  upstreamFailedPage,
  wakeFailedPage,
} from "./http-proxy-pages.ts";
import { type Addressed, addressOf, authorize, type RouteDeps, type Routed } from "./http-proxy-route.ts";
import { proxyUpgrade } from "./http-proxy-upgrade.ts";
import { createUpstreamPools, type Dial } from "./http-proxy-upstream.ts";

export interface HttpProxyOptions {
  host: string;
  port: number;
  baseDomain: string;
  /** Serve HTTPS with this certificate (a wildcard for *.baseDomain); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  targets: PortTargetLookup;
  dial: Dial;
  ports?: ProxyPorts | undefined;
  auth?: ProxyAuth | undefined;
  activity?: ProxyActivity | undefined;
  wake: EnvWaker;
  holdForWake?: HoldForWake | undefined;
  logger: Logger;
  /** Idle time of a pooled upstream connection (http-proxy-upstream.ts). */
  upstreamIdleMs?: number;
  /** The control plane's API and dashboard on `warren.<base>` and IP-literal hosts (control-host.ts). */
  control?: ControlPlaneHost | undefined;
  /** Requests, bytes and WebSockets per environment (metrics/ingress.ts). */
  observer?: ProxyObserver | undefined;
}

export interface HttpProxy {
  info(): HttpProxyInfo;
  /** Upstream dials so far: fewer than requests when keep-alive reuses connections. */
  dials(): number;
  close(): Promise<void>;
}

/** Strict limits: headers must arrive promptly and stay small; bodies may stream for a while. */
const SERVER_OPTIONS: http.ServerOptions = {
  insecureHTTPParser: false,
  // The Host check is the proxy's own (http-proxy-route.ts: exactly one, HTTP/1.0 too). node's
  // answers 400 and closes, but still hands on requests pipelined behind the bad one, which the
  // proxy would then forward without the client ever seeing their answers.
  requireHostHeader: false,
  joinDuplicateHeaders: false,
  maxHeaderSize: 16 * 1024,
  headersTimeout: 20_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
};

/** node's parser errors that deserve a status other than 400. */
const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

const RETRYABLE = new Set(["GET", "HEAD", "OPTIONS"]);

export async function startHttpProxy(o: HttpProxyOptions): Promise<HttpProxy> {
  const scheme = o.tls ? "https" : "http";
  const deps: RouteDeps = {
    baseDomain: o.baseDomain,
    targets: o.targets,
    ports: o.ports ?? privatePorts,
    auth: o.auth ?? noSignIn,
    activity: o.activity ?? noActivity,
  };
  const pools = createUpstreamPools(
    o.dial,
    o.upstreamIdleMs !== undefined ? { idleMs: o.upstreamIdleMs } : {},
  );
  const hold = o.holdForWake ?? plainHold;
  const log = o.logger;
  // Connections told "400, closing": requests pipelined behind the bad one are not forwarded.
  const closing = new WeakSet<object>();

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err, host: req.headers.host }, "port proxy request failed");
      sendPage(res, {
        status: 500,
        title: "Proxy error",
        message: "The port proxy failed; see the server log.",
      });
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closing.has(req.socket)) return; // never answered: the connection closes after the 400
    if (o.control && isControlRequest(req, o.baseDomain)) return serveControlHost(o.control, req, res);
    const a = addressOf(req, o.baseDomain);
    if ("kind" in a) {
      if (a.page.status !== 400) return sendPage(res, a.page, a.headers);
      closing.add(req.socket);
      return sendPage(res, a.page, { ...a.headers, connection: "close" });
    }
    if (await deps.auth.handleAuthPath(req, res)) return;
    const r = await authorize(deps, req, a);
    if (r.kind === "page") return sendPage(res, r.page, r.headers);
    if (r.asleep) {
      const { actor, target } = r;
      if (!actor) return; // authorize() answers anonymous visits to a stopped environment itself
      const ready = await hold(
        res,
        { id: target.envId, name: target.envName },
        (signal) => o.wake.wake(actor, target.envId, { signal }),
        { req },
      );
      if (!ready) return;
      pools.forget(target.envId); // connections from before the stop are dead
    }
    forward(req, res, a, r, false);
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    a: Addressed,
    r: Extract<Routed, { kind: "forward" }>,
    retried: boolean,
  ): void {
    const method = req.method ?? "GET";
    const headers = {
      ...upstreamRequestHeaders(req.rawHeaders, { clientIp: clientIp(req), scheme, host: a.host }),
      ...bodyFraming(method, req.headers),
    };
    const agent = pools.agent(r.target.envId, r.port, r.actor);
    const up = http.request({ agent, method, path: req.url, headers });
    const seen = o.observer;
    const envId = r.target.envId;
    if (seen && !retried) {
      seen.request(envId);
      req.on("data", (c: Buffer) => seen.bytes(envId, "to_env", c.length));
    }
    let answered = false;
    up.on("response", (ures) => {
      answered = true;
      if (seen) ures.on("data", (c: Buffer) => seen.bytes(envId, "from_env", c.length));
      const out = downstreamResponseHeaders(ures.rawHeaders, a.hostname);
      res.writeHead(ures.statusCode ?? 502, out.flat());
      ures.pipe(res);
      ures.on("error", () => res.destroy());
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      if (answered || res.headersSent) return void res.destroy();
      // A pooled connection the app closed while it sat idle: one retry on a fresh one, for
      // requests without a body (the body has been consumed by the first attempt).
      if (!retried && up.reusedSocket && RETRYABLE.has(method) && !hasBody(req)) {
        return forward(req, res, a, r, true);
      }
      sendPage(res, upstreamErrorPage(err, r));
    });
    // A revoked session ends what it is still receiving (a long download, an event stream).
    const unsubscribe =
      r.sessionId !== undefined ? deps.auth.onSessionEnd?.(r.sessionId, () => res.destroy()) : undefined;
    res.on("close", () => {
      unsubscribe?.();
      if (!res.writableFinished) up.destroy();
    });
    if (retried) up.end();
    else req.pipe(up);
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (o.control && isControlRequest(req, o.baseDomain))
      return upgradeControlHost(o.control, req, socket, head);
    proxyUpgrade({
      deps,
      dial: o.dial,
      wake: o.wake,
      scheme,
      req,
      socket,
      head,
      errorPage: upstreamErrorPage,
      observer: o.observer,
    }).catch((err: unknown) => {
      log.warn({ err, host: req.headers.host }, "port proxy upgrade failed");
      socket.destroy();
    });
  };

  const server = o.tls
    ? https.createServer(
        {
          ...SERVER_OPTIONS,
          cert: o.tls.cert,
          key: o.tls.key,
          minVersion: "TLSv1.2",
          ALPNProtocols: ["http/1.1"],
        },
        onRequest,
      )
    : http.createServer(SERVER_OPTIONS, onRequest);
  server.on("upgrade", onUpgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Mid-response (a pipelined request broke after an earlier one was answered in part): the
    // connection can only be cut. Otherwise say why, once, and close.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === "ECONNRESET" || inFlight?.headersSent) return void socket.destroy();
    rawStatus(socket, CLIENT_ERROR_STATUS[err.code ?? ""] ?? 400);
  });
  const sockets = new Set<Duplex>();
  server.on("connection", (s: Duplex) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.warn({ err }, "port proxy server error"));
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : o.port;
  log.info({ host: o.host, port: bound, baseDomain: o.baseDomain, scheme }, "port proxy listening");
  return {
    info: () => ({ listening: true, host: o.host, port: bound, baseDomain: o.baseDomain, scheme }),
    dials: () => pools.dials(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        pools.close();
      }),
  };
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (cl !== undefined && cl !== "0");
}

function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}

function upstreamErrorPage(err: unknown, r: { port: number; target: { envName: string } }): ProxyPage {
  if (isWarrenError(err) && err.code === "DIAL_FAILED") return nothingListensPage(r.port, r.target.envName);
  if (isWarrenError(err) && err.code === "ENV_NOT_RUNNING") {
    return upstreamFailedPage(r.port, r.target.envName, "the environment is not running");
  }
  const e = err as NodeJS.ErrnoException;
  return upstreamFailedPage(r.port, r.target.envName, e.code ?? e.message ?? "unknown error");
}

/** Without the "starting…" page: hold the request until the environment runs, or answer 504. */
const plainHold: HoldForWake = async (res, env, wake) => {
  const ac = new AbortController();
  res.once("close", () => ac.abort());
  try {
    await wake(ac.signal);
    return true;
  } catch (err) {
    sendPage(res, wakeFailedPage(env.name, err instanceof Error ? err.message : String(err)));
    return false;
  }
};
