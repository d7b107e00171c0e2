// Shared setup for oidc.test.ts: a real OpenID provider (the npm package oidc-provider) on
// loopback, Warren apps over one database (each its own build() and OIDC service, like replicas
// behind a load balancer), and a "browser": fetch with a cookie jar that follows the provider's
// redirects and completes its dev login and consent forms by POSTing them.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import Provider from "oidc-provider";
import { type Clock, systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { createAuditService } from "../src/services/audit.ts";
import { createIdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import {
  createOidcService,
  type OidcMappingRule,
  type OidcService,
  parseMapping,
} from "../src/services/oidc.ts";
import type { Db } from "../src/store/db.ts";

export const REDIRECT = "http://warren.test/api/v1/auth/oidc/callback";
const MAPPING: OidcMappingRule[] = parseMapping(
  JSON.stringify([
    { group: "eng", org: "default", role: "member" },
    { emailDomain: "example.com", org: "default", role: "admin" },
  ]),
);

export interface Account {
  email: string;
  groups: string[];
  /** The email_verified claim as the provider sends it; default true, OMIT leaves it out. */
  emailVerified?: unknown;
}

/** Account.emailVerified: send no email_verified claim at all. */
export const OMIT = Symbol("omit");

export interface Replica {
  app: FastifyInstance;
  oidc: OidcService;
}

export interface World extends Replica {
  h: Harness;
  db: Db;
  issuer: string;
  /** The provider's accounts by login (= `sub`); tests may change them between sign-ins. */
  accounts: Record<string, Account>;
  /** Moves Warren's clock (not the provider's) forward. */
  advance(ms: number): void;
  /** Another app and OIDC service over the same database: a second replica. */
  replica(o?: { redirectUrl?: string }): Replica;
  close(): Promise<void>;
}

export async function startProvider(accounts: Record<string, Account>) {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "warren",
        client_secret: "warren-secret",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    async findAccount(_ctx, id) {
      const a = accounts[id];
      if (!a) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: a.email,
          ...(a.emailVerified === OMIT ? {} : { email_verified: a.emailVerified ?? true }),
          groups: a.groups,
        }),
      };
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
    cookies: { keys: ["test-cookie-key"] },
  });
  handler = provider.callback();
  return { server, issuer };
}

export async function oidcWorld(): Promise<World> {
  const accounts: Record<string, Account> = {
    alice: { email: "alice@example.com", groups: ["staff"] },
    bob: { email: "bob@other.org", groups: ["eng"] },
    mallory: { email: "mallory@evil.test", groups: ["nobody"] },
  };
  const { server, issuer } = await startProvider(accounts);
  const h = await harness();
  let offset = 0;
  const clock: Clock = { ...systemClock, now: () => Date.now() + offset };
  const apps: FastifyInstance[] = [];
  const replica = (ro: { redirectUrl?: string } = {}): Replica => {
    const identity = createIdentityService({ db: h.store.db, clock });
    const audit = createAuditService({ db: h.store.db, clock });
    const oidc = createOidcService({
      config: {
        issuer,
        clientId: "warren",
        clientSecret: "warren-secret",
        redirectUrl: ro.redirectUrl ?? REDIRECT,
        mapping: MAPPING,
      },
      db: h.store.db,
      clock,
      audit,
    });
    const app = build({
      envs: h.envs,
      classes: h.classes,
      images: createImageService({ runner: h.runner }),
      runner: h.runner,
      logger: false,
      identity,
      audit,
      oidc,
      transport: "tls",
    });
    apps.push(app);
    return { app, oidc };
  };
  return {
    ...replica(),
    h,
    db: h.store.db,
    issuer,
    accounts,
    advance: (ms) => {
      offset += ms;
    },
    replica,
    async close() {
      for (const app of apps) await app.close();
      await h.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}

/** A browser: follows redirects with cookies and fills in the provider's dev login and consent forms. */
export async function browse(startUrl: string, login: string): Promise<string> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ""] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
  };
  let url = startUrl;
  let init: RequestInit = {};
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(REDIRECT)) return url;
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...init.headers, cookie: cookie() },
    });
    keep(res);
    init = {};
    const location = res.headers.get("location");
    if (location) {
      url = new URL(location, url).toString();
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, html);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(action && prompt, `a provider form: ${html}`);
    const body = new URLSearchParams({ prompt });
    if (prompt === "login") {
      body.set("login", login);
      body.set("password", "any");
    }
    url = new URL(action.replace(/&amp;/g, "&"), url).toString();
    init = {
      method: "POST",
      body: body.toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
  }
  throw new Error("too many redirects");
}

export const pathOf = (u: string) => {
  const x = new URL(u);
  return x.pathname + x.search;
};
export const json = { accept: "application/json" };

/** The `cookie` request header that sends back every cookie a response set (Max-Age=0 ones dropped). */
export function cookiesFrom(res: { headers: Record<string, unknown> }): string {
  const raw = res.headers["set-cookie"];
  const list = Array.isArray(raw) ? raw.map(String) : raw === undefined ? [] : [String(raw)];
  return list
    .filter((c) => !/;\s*Max-Age=0(;|$)/i.test(c))
    .map((c) => c.split(";")[0]!)
    .join("; ");
}

/** Starts a browser flow on `app`: the provider URL and the cookie the browser now holds. */
export async function startFlow(app: FastifyInstance) {
  const start = await app.inject({ method: "GET", url: "/api/v1/auth/oidc/start" });
  assert.equal(start.statusCode, 302, start.body);
  const loc = String(start.headers.location);
  assert.match(loc, /code_challenge_method=S256/);
  assert.match(loc, /[?&]nonce=/);
  assert.match(loc, /[?&]state=/);
  const cookie = cookiesFrom(start);
  assert.match(cookie, /^warren_signin_[0-9a-f]{16}=[\w-]{32}$/);
  return { loc, cookie, setCookie: start.headers["set-cookie"] };
}

/** The browser flow: start on `from`, sign in at the provider, land the redirect on `to`. */
export async function signIn(from: FastifyInstance, login: string, to: FastifyInstance = from) {
  const { loc, cookie } = await startFlow(from);
  const back = await browse(loc, login);
  return to.inject({ method: "GET", url: pathOf(back), headers: { ...json, cookie } });
}

export async function whoami(app: FastifyInstance, token: string) {
  const r = await app.inject({
    method: "GET",
    url: "/api/v1/whoami",
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as { user: { id: string; name: string }; role: string };
}

/**
 * A browser on the device code's verification page: opens it (the confirmation page), presses
 * its button, and returns where that sends it (the provider) and the cookies it then holds.
 */
export async function confirmDevice(app: FastifyInstance, userCode: string) {
  const page = await app.inject({ method: "GET", url: `/api/v1/auth/device/verify?user_code=${userCode}` });
  assert.equal(page.statusCode, 200, page.body);
  const token = /name="confirm" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(token, page.body);
  const go = await app.inject({
    method: "GET",
    url: `/api/v1/auth/device/verify?user_code=${encodeURIComponent(userCode)}&confirm=${token}`,
    headers: { cookie: cookiesFrom(page) },
  });
  assert.equal(go.statusCode, 302, go.body);
  return { page, token, loc: String(go.headers.location), cookie: cookiesFrom(go) };
}
