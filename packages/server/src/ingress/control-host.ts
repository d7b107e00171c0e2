// The control-plane host of the ingress HTTP listener: `warren.<base-domain>[:port]`, or an IP
// literal (`127.0.0.1:8080`, `[::1]:8080`) so that Prometheus, which cannot set a Host header, can
// scrape it. The port proxy (http-proxy.ts) asks here before it routes port hosts:
// - /api/v1/*, /metrics and /metrics/runners (and WebSocket upgrades under /api/v1) go INTO the
//   control plane's Fastify app, the same instance the unix socket serves. They arrive over TCP,
//   so they are never the local root (http/auth.ts): they need a token or a dashboard session.
// - everything else is the dashboard (http/dashboard-site.ts): its files and its sign-in paths.
// Nothing else of the app is reachable here (the runners' /api/runner/v1 stays on the API listener).
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIPv4, isIPv6 } from "node:net";
import type { Duplex } from "node:stream";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { sendPage } from "./http-proxy-pages.ts";

/** The label under the base domain that names the control plane (`warren.localhost`). */
export const CONTROL_LABEL = "warren";

/** What the proxy hands control-host traffic to. */
export interface ControlPlaneHost {
  /** The API app's request handler (fastify's `app.routing`). */
  api(req: IncomingMessage, res: ServerResponse): void;
  /** WebSocket upgrades under /api/v1 (the app's websocket plugin). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * The dashboard (static files, sign-in links, OIDC start): a Fastify instance of its own, apart
   * from the API app so that its catch-all route stays out of the API's OpenAPI document.
   */
  site: Pick<FastifyInstance, "ready" | "routing">;
}

/** The dashboard's host name under a base domain. */
export const controlHostName = (baseDomain: string): string => `${CONTROL_LABEL}.${baseDomain}`;

/** The dashboard's origin for a listener: `http://warren.localhost:8080` (default ports left out). */
export function dashboardUrl(o: { scheme: "http" | "https"; baseDomain: string; port: number }): string {
  const defaultPort = o.scheme === "https" ? 443 : 80;
  return `${o.scheme}://${controlHostName(o.baseDomain)}${o.port === defaultPort ? "" : `:${o.port}`}`;
}

/**
 * Whether a Host header names the control plane: exactly `warren.<base>` (any case, optional
 * port) or an IP literal. Anything else is left to the port-host parser, which checks it strictly.
 */
export function isControlHost(host: string | undefined, baseDomain: string): boolean {
  if (host === undefined) return false;
  const h = host.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::[0-9]{1,5})?$/.exec(h);
  if (v6) return isIPv6(v6[1] ?? "");
  const m = /^([^:]+)(?::[0-9]{1,5})?$/.exec(h);
  if (!m?.[1]) return false;
  return m[1] === controlHostName(baseDomain) || isIPv4(m[1]);
}

/** Whether a path on the control host goes to the API app rather than the dashboard's files. */
export function isApiPath(url: string | undefined): boolean {
  const path = (url ?? "/").split("?", 1)[0] ?? "/";
  return path.startsWith(`${API_PREFIX}/`) || path === "/metrics" || path === "/metrics/runners";
}

/** A request for the control host: exactly one Host header naming it, and an origin-form target. */
export function isControlRequest(req: IncomingMessage, baseDomain: string): boolean {
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === "host") hosts++;
  return hosts === 1 && (req.url ?? "").startsWith("/") && isControlHost(req.headers.host, baseDomain);
}

/** A request on the control host: to the app or the dashboard. The Host was counted by the caller. */
export function serveControlHost(c: ControlPlaneHost, req: IncomingMessage, res: ServerResponse): void {
  if (isApiPath(req.url)) c.api(req, res);
  else
    c.site.ready().then(
      () => c.site.routing(req, res),
      () =>
        sendPage(res, {
          status: 500,
          title: "Dashboard error",
          message: "The dashboard's server did not start; see the server log.",
        }),
    );
}

/** An upgrade on the control host: only the API's WebSockets; anything else is refused. */
export function upgradeControlHost(
  c: ControlPlaneHost,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
  if (path.startsWith(`${API_PREFIX}/`)) c.upgrade(req, socket, head);
  else socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
}
