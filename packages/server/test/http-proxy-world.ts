// A daemon (runDaemon + FakeRunner) with its port proxy on 127.0.0.1:0, and a real node:http
// server "inside" the environment (a fake.listeners entry) that records what reached it. Sign-in,
// port visibility and activity are the contracts' other sides (ingress/http-proxy-contracts.ts),
// stood in for here by small tables the tests set.
import assert from "node:assert/strict";
import http, { type IncomingHttpHeaders } from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { WebSocketServer } from "ws";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import type { PortVisibility, ProxyAuth, ProxyPorts } from "../src/ingress/http-proxy-contracts.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface ProxyWorld {
  d: Daemon;
  fake: FakeRunner;
  envId: string;
  proxyPort: number;
  seen: Seen[];
  visibility: Map<string, PortVisibility>;
  publicOrgs: Set<string>;
  activity: string[];
  /** Serves the backend on (env, port). */
  serve(port: number, envId?: string): void;
  close(): Promise<void>;
}

/** The stand-in session cookie: `warren_port_s=root` is the owner; `=stranger` someone denied. */
export const OWNER_COOKIE = "warren_port_s=root";

function stubAuth(): ProxyAuth {
  const who = (cookie: string | undefined) => /(?:^|;\s*)warren_port_s=([a-z]+)/.exec(cookie ?? "")?.[1];
  return {
    async decide(req, t) {
      const user = who(req.headers.cookie);
      if (user === "root") {
        const actor = {
          kind: "user",
          userId: BOOTSTRAP_OWNER_ID,
          orgId: BOOTSTRAP_ORG_ID,
          role: "owner",
          via: "token",
        } as const;
        return { kind: "allow", actor };
      }
      if (user !== undefined) return { kind: "deny", status: 404, message: "not yours" };
      if (t.visibility === "public") return { kind: "allow" };
      return { kind: "redirect", location: `http://control.test/signin?port=${t.port}` };
    },
    async handleAuthPath(req, res) {
      if (!req.url?.startsWith("/__warren/")) return false;
      res.writeHead(204).end();
      return true;
    },
    csrfRefused(req) {
      return req.method === "POST" && req.headers.origin === "http://evil.test"
        ? "a foreign Origin"
        : undefined;
    },
  };
}

export async function startProxyWorld(prefix: string): Promise<ProxyWorld> {
  const tmp = tempDir(prefix);
  const fake = new FakeRunner();
  const visibility = new Map<string, PortVisibility>();
  const publicOrgs = new Set<string>();
  const activity: string[] = [];
  const ports: ProxyPorts = {
    visibility: async (envId, port) => visibility.get(`${envId}:${port}`) ?? "private",
    publicAllowed: async (org) => publicOrgs.has(org),
  };
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    runner: fake,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
    portProxy: {
      listen: "127.0.0.1:0",
      ports,
      auth: stubAuth(),
      activity: { record: (envId, kind, source) => activity.push(`${envId} ${kind} ${source}`) },
    },
  });
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments?wait=1",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const envId = (JSON.parse(created.body) as { id: string }).id;
  const info = JSON.parse((await d.app.inject({ method: "GET", url: "/api/v1/http/proxy" })).body) as {
    port: number;
  };
  const seen: Seen[] = [];
  const backend = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      if (req.url === "/cookies") {
        res.setHeader("set-cookie", [
          "ok=1; Path=/",
          "wide=1; Domain=localhost; Path=/",
          "exact=1; Domain=8080--dev--default.localhost",
          "dotted=1; Domain=.localhost",
          "warren_port_s=fixated; Path=/",
        ]);
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url, bytes: Buffer.byteLength(body) }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  backend.on("upgrade", (req, sock, head) => {
    wss.handleUpgrade(req, sock, head, (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`)));
  });
  const serve = (port: number, id = envId) =>
    fake.listeners.set(`${id}:${port}`, (sock) => backend.emit("connection", socketLike(sock)));
  return {
    d,
    fake,
    envId,
    proxyPort: info.port,
    seen,
    visibility,
    publicOrgs,
    activity,
    serve,
    async close() {
      await d.close();
      backend.close();
      tmp.cleanup();
    },
  };
}

/** The in-memory end gets the net.Socket methods node's server and ws call on a connection. */
function socketLike(s: Duplex): Duplex {
  const self = () => s;
  return Object.assign(s, { setTimeout: self, setNoDelay: self, setKeepAlive: self, ref: self, unref: self });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request to the proxy with the given Host (no DNS: always 127.0.0.1). */
export function get(
  w: ProxyWorld,
  host: string,
  o: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: http.Agent;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: w.proxyPort,
        method: o.method ?? "GET",
        path: o.path ?? "/",
        headers: { host, ...o.headers },
        agent: o.agent ?? false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}
