// Shared setup for the dashboard tests: the real ingress listener (the port proxy) on 127.0.0.1:0
// with its control-plane host wired into the control plane's app, as the daemon wires it
// (start-ingress.ts controlPlaneHost), a small built dashboard in a temp directory, and users with
// tokens: alice (member) and bob (member) in the first organisation, carol (owner) in another.
// alice owns environment "web", carol "theirs". The sessions' clock can be moved forward (`skew`).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http, { type IncomingHttpHeaders } from "node:http";
import path from "node:path";
import { type Harness, harness, tempDir } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { type Clock, systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { generateSelfSigned } from "../src/http/tls-cert.ts";
import { createDashboardSessions, type DashboardSessions } from "../src/ingress/dashboard-sessions.ts";
import { type HttpProxy, startHttpProxy } from "../src/ingress/http-proxy.ts";
import { controlPlaneHost } from "../src/ingress/start-ingress.ts";
import { silentLogger } from "../src/logger.ts";
import type { UserActor } from "../src/services/actor.ts";
import { storeCredentialCheck } from "../src/services/credential-check.ts";
import { requireRunningWaker } from "../src/services/env-wake.ts";
import { createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createLiveSessions, type LiveSessions } from "../src/services/live-sessions.ts";
import { createOidcService, type OidcConfig } from "../src/services/oidc.ts";
import { createPortTargetLookup } from "../src/services/port-targets.ts";
import { createEnvWatchService, type EnvWatchService } from "../src/services/watch.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { startApp } from "./port-auth-world.ts";

export const OTHER_ORG = "org_other0001";
export const INDEX_HTML = "<!doctype html><title>Warren</title><div id=app></div>";

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Who = "alice" | "bob" | "carol";

/** A request the API app answered: whether it carried the dashboard's cookie. */
export interface Seen {
  method: string;
  url: string;
  status: number;
  cookie: boolean;
}

export interface DashboardWorld {
  h: Harness;
  app: FastifyInstance;
  identity: IdentityService;
  live: LiveSessions;
  sessions: DashboardSessions;
  watch: EnvWatchService;
  proxy: HttpProxy;
  port: number;
  /** `http://warren.localhost:PORT`: the dashboard's origin. */
  origin: string;
  /** The Host header of the dashboard. */
  host: string;
  /** A port URL of the same base domain (another origin, the same site). */
  portOrigin: string;
  /** Every request the API app answered, in order. */
  seen: Seen[];
  /** The built dashboard's directory (tests may remove files). */
  dist: string;
  users: Record<Who, UserActor & { token: string }>;
  /** Moves the sessions' clock forward. */
  skew(ms: number): void;
  /** A request to the ingress listener with the dashboard's Host unless `headers.host` says otherwise. */
  request(
    method: string,
    url: string,
    headers?: Record<string, string>,
    body?: string | Buffer,
  ): Promise<Reply>;
  /** Signs `who` in with their token from the dashboard's own page; the cookie pair and CSRF token. */
  signIn(who: Who): Promise<{ cookie: string; csrf: string; setCookie: string }>;
  /** The headers of an API call from the dashboard's page with a session. */
  own(s: { cookie: string; csrf: string }): Record<string, string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Default `localhost`. */
  baseDomain?: string;
  /** Make every port public, with an app on port 3000 of "web" (startApp): a page another origin serves. */
  publicApp?: boolean;
  /** Serve HTTPS with a self-signed certificate for *.BASE (browsers: ignore certificate errors). */
  tls?: boolean;
  /** Set up OIDC sign-in with this provider (oidc-world.ts startProvider). */
  oidc?: OidcConfig;
}

export async function dashboardWorld(o: WorldOptions = {}): Promise<DashboardWorld> {
  const base = o.baseDomain ?? "localhost";
  const h = await harness();
  const db = h.store.db;
  let offset = 0;
  const clock: Clock = { ...systemClock, now: () => Date.now() + offset };
  const live = createLiveSessions({ clock, logger: silentLogger, check: storeCredentialCheck(db, clock) });
  const identity = createIdentityService({ db, clock, onRevoked: (r) => live.revoke(r) });
  const sessions = createDashboardSessions({ clock, live });
  const watch = createEnvWatchService({ db, changes: h.changes, clock: systemClock, logger: silentLogger });
  watch.start();
  const tmp = tempDir("dashboard-dist-").dir;
  const dist = path.join(tmp, "dist");
  const scheme = o.tls ? "https" : "http";
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (o.tls) {
    await generateSelfSigned(path.join(tmp, "tls"), [`DNS:*.${base}`, `DNS:${base}`]);
    tls = {
      cert: readFileSync(path.join(tmp, "tls", "cert.pem")),
      key: readFileSync(path.join(tmp, "tls", "key.pem")),
    };
  }
  mkdirSync(path.join(dist, "assets"), { recursive: true });
  writeFileSync(path.join(dist, "index.html"), INDEX_HTML);
  writeFileSync(path.join(dist, "assets", "app-0a1b2c.js"), "console.log('warren');\n");
  let port = 0;
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    identity,
    db,
    clock,
    watch,
    sessions: live,
    dashboard: sessions,
    // As the daemon does: always an OIDC service, which refuses everything unless configured.
    oidc: createOidcService({ config: o.oidc, db, clock }),
    httpProxy: () => ({ listening: true, host: "127.0.0.1", port, baseDomain: base, scheme }),
  });
  const seen: Seen[] = [];
  app.addHook("onResponse", async (req, reply) => {
    seen.push({
      method: req.method,
      url: req.url,
      status: reply.statusCode,
      cookie: /warren_session=/.test(req.headers.cookie ?? ""),
    });
  });
  await app.ready();
  const proxy = await startHttpProxy({
    host: "127.0.0.1",
    port: 0,
    baseDomain: base,
    tls,
    ...(o.publicApp
      ? { ports: { visibility: async () => "public" as const, publicAllowed: async () => true } }
      : {}),
    targets: createPortTargetLookup({ db }),
    dial: (id, p) => h.runner.dial(id, p),
    wake: requireRunningWaker(h.envs),
    logger: silentLogger,
    control: controlPlaneHost(app, {
      sessions,
      logger: silentLogger,
      dashboardDir: dist,
      oidcRedirectUrl: o.oidc?.redirectUrl,
    }),
  });
  port = proxy.info().port;
  const host = `warren.${base}:${port}`;
  const origin = `${scheme}://${host}`;

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
  };
  const join = async (org: string, name: string, role: UserActor["role"]) => {
    const m = await identity.addMember({ ...root, orgId: org } as never, org, { name, role });
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
  const app3000 = startApp("web:3000");
  if (o.publicApp) h.runner.listeners.set(`${web.id}:3000`, app3000.serve);
  await h.envs.create(users.carol, { name: "theirs" });

  const request: DashboardWorld["request"] = (method, url, headers = {}, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, method, path: url, headers: { host, ...headers }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const own = (s: { cookie: string; csrf: string }) => ({
    cookie: s.cookie,
    "x-warren-csrf": s.csrf,
    origin,
  });
  return {
    h,
    app,
    identity,
    live,
    sessions,
    watch,
    proxy,
    port,
    origin,
    host,
    portOrigin: `${scheme}://3000--web--default.${base}:${port}`,
    seen,
    dist,
    users,
    skew: (ms) => {
      offset += ms;
    },
    request,
    own,
    async signIn(who) {
      const r = await request(
        "POST",
        "/api/v1/auth/dashboard/session",
        { origin, "content-type": "application/json" },
        JSON.stringify({ token: users[who].token }),
      );
      if (r.status !== 200) throw new Error(`sign-in of ${who}: ${r.status} ${r.body}`);
      const setCookie = String(r.headers["set-cookie"]?.[0] ?? "");
      return {
        cookie: setCookie.split(";", 1)[0] ?? "",
        csrf: (JSON.parse(r.body) as { csrf: string }).csrf,
        setCookie,
      };
    },
    async close() {
      app3000.wss.close();
      await proxy.close();
      await app.close();
      await watch.close();
      live.close();
      await h.close();
    },
  };
}
