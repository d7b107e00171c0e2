// Shared setup for the port sign-in tests (port-auth.test.ts, port-browser.test.ts): the real port
// proxy on 127.0.0.1:0 with base domain `localhost`, the control plane's API in-process, and apps
// "inside" fake environments (FakeRunner listeners) reached through the runner's dial, as the
// daemon wires them. Users: alice owns environment "web" in the bootstrap organisation, bob is a
// member there, carol owns organisation "other". Each has a token.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { WebSocketServer } from "ws";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { portOidcSignInUrl } from "../src/http/routes-port-oidc.ts";
import { type HttpProxy, startHttpProxy } from "../src/ingress/http-proxy.ts";
import { createPortAuth, type PortAuth } from "../src/ingress/port-auth.ts";
import { parsePortHost, portUrl } from "../src/ingress/port-host.ts";
import { createPortSessions, type PortSessions } from "../src/ingress/port-sessions.ts";
import { createPortSignIn } from "../src/ingress/port-signin.ts";
import { silentLogger } from "../src/logger.ts";
import type { UserActor } from "../src/services/actor.ts";
import { storeCredentialCheck } from "../src/services/credential-check.ts";
import { requireRunningWaker } from "../src/services/env-wake.ts";
import { createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createLiveSessions, type LiveSessions } from "../src/services/live-sessions.ts";
import { createOidcService, type OidcConfig } from "../src/services/oidc.ts";
import { createPortTargetLookup } from "../src/services/port-targets.ts";
import { createPortService, type PortService } from "../src/services/ports.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

export const BASE = "localhost";
export const OTHER_ORG = "org_other0001";

/** A sign-in link, or an ErrorBody. */
export interface LinkBody {
  url: string;
  code: string;
  message: string;
}

export interface PortWorld {
  h: Harness;
  app: FastifyInstance;
  identity: IdentityService;
  live: LiveSessions;
  ports: PortService;
  sessions: PortSessions;
  auth: PortAuth;
  proxy: HttpProxy;
  /** The base domain of port URLs. */
  base: string;
  /** What csrfRefused() refused, in order. */
  refusals: string[];
  /** The proxy's listening port. */
  proxyPort: number;
  users: Record<"alice" | "bob" | "carol", UserActor & { token: string }>;
  /** Environment "web" (alice's) and "api" (alice's too: another environment of the same owner). */
  env: { web: string; api: string };
  /** `http://PORT--ENV--default.localhost:PROXYPORT` */
  url(env: "web" | "api", port: number): string;
  /** `POST …/signin-link` as `who`; returns the status and body. */
  signinLink(
    who: "alice" | "bob" | "carol",
    env: string,
    port: number,
  ): Promise<{ status: number; body: LinkBody }>;
  close(): Promise<void>;
}

/**
 * The app each environment runs on ports 3000 and 4000: GET answers who it is and the cookies and
 * authorization it was sent; POST answers "posted"; WebSocket upgrades echo.
 */
export function startApp(name: string) {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const page =
        req.method === "POST"
          ? `posted to ${name}: ${body}`
          : `<!doctype html><html><head><title>${name}</title></head><body><h1 id="app">hello from ${name}</h1>` +
            `<pre id="cookie">${req.headers.cookie ?? ""}</pre></body></html>`;
      res.writeHead(200, { "content-type": req.method === "POST" ? "text/plain" : "text/html" });
      res.end(page);
    });
  });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(`echo:${m.toString()}`)));
  });
  // ws tunes a TCP socket (timeout, Nagle); the runner's dial hands over a plain duplex.
  const serve = (socket: Duplex) => {
    const tcpish = socket as Duplex & Record<string, unknown>;
    for (const m of ["setTimeout", "setNoDelay", "setKeepAlive"]) tcpish[m] ??= () => socket;
    server.emit("connection", socket);
  };
  return { serve, wss };
}

export async function portWorld(
  o: { baseDomain?: string /** Sign-in through OIDC at the control plane. */; oidc?: OidcConfig } = {},
): Promise<PortWorld> {
  const base = o.baseDomain ?? BASE;
  const h = await harness();
  const db = h.store.db;
  const clock = systemClock;
  const live = createLiveSessions({ clock, logger: silentLogger, check: storeCredentialCheck(db, clock) });
  const identity = createIdentityService({ db, clock, onRevoked: (r) => live.revoke(r) });
  let proxyPort = 0;
  const ports = createPortService({
    db,
    clock,
    envs: h.envs,
    runner: h.runner,
    proxy: () => ({ scheme: "http", baseDomain: base, listenPort: proxyPort }),
  });
  const sessions = createPortSessions({ clock, live });
  ports.onTightened((envId, port, v) => sessions.tightened(envId, port, v));
  const oidcConfig = o.oidc;
  const auth = createPortAuth({
    sessions,
    scheme: "http",
    parseHost: (host) => parsePortHost(host, base),
    signInUrl: oidcConfig ? (t) => portOidcSignInUrl(oidcConfig.redirectUrl, t) : undefined,
  });
  const refusals: string[] = [];
  const portSignIn = createPortSignIn({
    db,
    sessions,
    visibility: (envId, port) => ports.visibility(envId, port),
    urlFor: (t) => portUrl({ scheme: "http", baseDomain: base, listenPort: proxyPort, ...t }),
  });
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    identity,
    transport: "tls",
    db,
    clock,
    sessions: live,
    portSignIn,
    ...(oidcConfig ? { oidc: createOidcService({ config: oidcConfig, db, clock }) } : {}),
  });
  const proxy = await startHttpProxy({
    host: "127.0.0.1",
    port: 0,
    baseDomain: base,
    targets: createPortTargetLookup({ db }),
    dial: (id, port) => h.runner.dial(id, port),
    ports,
    // The CSRF refusals are recorded, so a browser test can tell them from a missing cookie.
    auth: {
      ...auth,
      csrfRefused: (req, t) => {
        const why = auth.csrfRefused(req, t);
        if (why) refusals.push(why);
        return why;
      },
    },
    wake: requireRunningWaker(h.envs),
    logger: silentLogger,
  });
  proxyPort = proxy.info().port;

  await db
    .insertInto("orgs")
    .values({ id: OTHER_ORG, name: "other", created_at: new Date().toISOString() })
    .execute();
  const root = {
    kind: "user",
    userId: "usr_root",
    orgId: BOOTSTRAP_ORG_ID,
    role: "owner",
    via: "local-socket",
  } as const;
  const join = async (org: string, name: string, role: UserActor["role"]) => {
    const by = org === BOOTSTRAP_ORG_ID ? root : { ...root, orgId: org };
    const m = await identity.addMember(by as never, org, { name, role });
    const actor: UserActor = { kind: "user", userId: m.userId, orgId: org, role, via: "token" };
    const t = await identity.createToken(actor, { name: `${name}-token` });
    return { ...actor, tokenId: t.id, token: t.token };
  };
  const users = {
    alice: await join(BOOTSTRAP_ORG_ID, "alice", "member"),
    bob: await join(BOOTSTRAP_ORG_ID, "bob", "member"),
    carol: await join(OTHER_ORG, "carol", "owner"),
  };
  const { env: web } = await h.envs.create(users.alice, { name: "web" });
  const { env: api } = await h.envs.create(users.alice, { name: "api" });
  const apps: ReturnType<typeof startApp>[] = [];
  for (const [name, id] of [
    ["web", web.id],
    ["api", api.id],
  ] as const) {
    for (const port of [3000, 4000]) {
      const a = startApp(`${name}:${port}`);
      apps.push(a);
      h.runner.listeners.set(`${id}:${port}`, a.serve);
    }
  }
  const env = { web: web.id, api: api.id };
  return {
    h,
    app,
    identity,
    live,
    ports,
    sessions,
    auth,
    proxy,
    proxyPort,
    users,
    env,
    url: (e, port) => `http://${port}--${e}--default.${base}:${proxyPort}`,
    base,
    refusals,
    async signinLink(who, e, port) {
      const res = await app.inject({
        method: "POST",
        url: `/api/v1/environments/${e}/ports/${port}/signin-link`,
        headers: { authorization: `Bearer ${users[who].token}`, accept: "application/json" },
      });
      return { status: res.statusCode, body: res.json() };
    },
    async close() {
      for (const a of apps) a.wss.close();
      await proxy.close();
      await app.close();
      live.close();
      await h.close();
    },
  };
}
