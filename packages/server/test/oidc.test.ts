// OIDC sign-in against a real OpenID provider (the npm package oidc-provider) on loopback. The
// "browser" is fetch with a cookie jar: it follows the provider's redirects and completes its dev
// login and consent forms by POSTing them, then hands the callback URL to the Warren app.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, test } from "node:test";
import type { ErrorBody } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import Provider from "oidc-provider";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { createAuditService } from "../src/services/audit.ts";
import { createIdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createOidcService, type OidcMappingRule, parseMapping } from "../src/services/oidc.ts";
import { type Harness, harness } from "./helpers.ts";

const REDIRECT = "http://warren.test/api/v1/auth/oidc/callback";
const ACCOUNTS: Record<string, { email: string; groups: string[] }> = {
  alice: { email: "alice@example.com", groups: ["staff"] },
  bob: { email: "bob@other.org", groups: ["eng"] },
  mallory: { email: "mallory@evil.test", groups: ["nobody"] },
};
const MAPPING: OidcMappingRule[] = parseMapping(
  JSON.stringify([
    { group: "eng", org: "default", role: "member" },
    { emailDomain: "example.com", org: "default", role: "admin" },
  ]),
);

let h: Harness | undefined;
let idp: Server | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  await new Promise<void>((r) => (idp ? idp.close(() => r()) : r()));
  idp?.closeAllConnections();
  app = h = idp = undefined;
});

async function startProvider(): Promise<string> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end();
  idp = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => idp!.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
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
      const a = ACCOUNTS[id];
      if (!a) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: a.email, email_verified: true, groups: a.groups }),
      };
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
    cookies: { keys: ["test-cookie-key"] },
  });
  handler = provider.callback();
  return issuer;
}

interface World {
  app: FastifyInstance;
  audit: ReturnType<typeof createAuditService>;
}

async function setup(): Promise<World> {
  const issuer = await startProvider();
  h = await harness();
  const clock = systemClock;
  const identity = createIdentityService({ db: h.store.db, clock });
  const audit = createAuditService({ db: h.store.db, clock });
  const oidc = createOidcService({
    config: {
      issuer,
      clientId: "warren",
      clientSecret: "warren-secret",
      redirectUrl: REDIRECT,
      mapping: MAPPING,
    },
    db: h.store.db,
    clock,
    audit,
  });
  app = build({
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
  return { app, audit };
}

/** A browser: follows redirects with cookies and fills in the provider's dev login and consent forms. */
async function browse(startUrl: string, login: string): Promise<string> {
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

const pathOf = (u: string) => {
  const x = new URL(u);
  return x.pathname + x.search;
};
const json = { accept: "application/json" };

async function signIn(w: World, login: string) {
  const start = await w.app.inject({ method: "GET", url: "/api/v1/auth/oidc/start" });
  assert.equal(start.statusCode, 302, start.body);
  const loc = String(start.headers.location);
  assert.match(loc, /code_challenge_method=S256/);
  assert.match(loc, /[?&]nonce=/);
  assert.match(loc, /[?&]state=/);
  const back = await browse(loc, login);
  return w.app.inject({ method: "GET", url: pathOf(back), headers: json });
}

async function signInRecords(_w: World) {
  const rows = await h!.store.db
    .selectFrom("audit_records")
    .selectAll()
    .where("action", "=", "auth.sign-in")
    .execute();
  return rows;
}

test("sign-in through the provider yields a Warren token; the provider's own tokens are refused", async () => {
  const w = await setup();
  const res = await signIn(w, "alice");
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { token: string; role: string; org: string; user: string };
  assert.match(body.token, /^wrn_[0-9A-Za-z]{43}$/);
  assert.equal(body.role, "admin");
  assert.equal(body.user, "alice@example.com");
  const who = await w.app.inject({
    method: "GET",
    url: "/api/v1/whoami",
    headers: { authorization: `Bearer ${body.token}` },
  });
  assert.equal(who.statusCode, 200, who.body);
  assert.equal(who.json().user.name, "alice@example.com");
  assert.equal(who.json().role, "admin");

  // A second sign-in reuses the user; a group mapping gives bob a member role.
  const bob = await signIn(w, "bob");
  assert.equal(bob.statusCode, 200, bob.body);
  assert.equal(bob.json().role, "member");
  const rows = await signInRecords(w);
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.result === "ok"));

  // The provider's own ID and access tokens, got directly from it, never pass as Warren tokens.
  const { idToken, accessToken } = await providerTokens(w, "alice");
  for (const t of [idToken, accessToken]) {
    const r = await w.app.inject({
      method: "GET",
      url: "/api/v1/whoami",
      headers: { authorization: `Bearer ${t}` },
    });
    assert.equal(r.statusCode, 401, r.body);
    assert.equal((r.json() as ErrorBody).code, "UNAUTHENTICATED");
  }
  // A replayed callback (same state) is refused.
  const again = await w.app.inject({
    method: "GET",
    url: "/api/v1/auth/oidc/callback?code=x&state=nope",
    headers: json,
  });
  assert.equal(again.statusCode, 401);
});

/** Runs the browser flow but redeems the code at the provider directly, as a thief would. */
async function providerTokens(w: World, login: string) {
  const start = await w.app.inject({ method: "GET", url: "/api/v1/auth/oidc/start" });
  const loc = new URL(String(start.headers.location));
  // Our own PKCE pair: the thief knows the verifier for the challenge it sends.
  const verifier = "v".repeat(64);
  const { createHash } = await import("node:crypto");
  loc.searchParams.set("code_challenge", createHash("sha256").update(verifier).digest("base64url"));
  const back = new URL(await browse(loc.toString(), login));
  const issuer = `${loc.protocol}//${loc.host}`;
  const disc = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
    token_endpoint: string;
  };
  const res = await fetch(disc.token_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from("warren:warren-secret").toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: back.searchParams.get("code") ?? "",
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }).toString(),
  });
  const t = (await res.json()) as { id_token: string; access_token: string };
  assert.ok(t.id_token && t.access_token, JSON.stringify(t));
  return { idToken: t.id_token, accessToken: t.access_token };
}

test("a user whose claims map to nothing is refused with a clear message", async () => {
  const w = await setup();
  const res = await signIn(w, "mallory");
  assert.equal(res.statusCode, 401, res.body);
  const err = res.json() as ErrorBody;
  assert.equal(err.code, "UNAUTHENTICATED");
  assert.match(err.message, /mallory@evil\.test" matches no rule of this server's OIDC mapping/);
  const users = await h!.store.db
    .selectFrom("users")
    .selectAll()
    .where("name", "=", "mallory@evil.test")
    .execute();
  assert.equal(users.length, 0, "no user is created");
  const rows = await signInRecords(w);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.result, "denied");
});

test("the device-code flow: code, browser sign-in with the user code, poll gets a token", async () => {
  const w = await setup();
  const dc = await w.app.inject({ method: "POST", url: "/api/v1/auth/device", payload: {} });
  assert.equal(dc.statusCode, 200, dc.body);
  const d = dc.json() as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    interval: number;
  };
  assert.match(d.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(d.verification_uri, "http://warren.test/api/v1/auth/device/verify");
  const poll = () =>
    w.app.inject({
      method: "POST",
      url: "/api/v1/auth/device/token",
      payload: { device_code: d.device_code },
    });
  assert.equal((await poll()).json().status, "authorization_pending");
  assert.equal((await poll()).json().status, "slow_down");

  // The page asks for the code; submitting it starts the browser flow.
  const form = await w.app.inject({ method: "GET", url: "/api/v1/auth/device/verify" });
  assert.equal(form.statusCode, 200);
  assert.match(form.body, /name="user_code"/);
  const typed = d.user_code.toLowerCase().replace("-", "");
  const go = await w.app.inject({ method: "GET", url: `/api/v1/auth/device/verify?user_code=${typed}` });
  assert.equal(go.statusCode, 302, go.body);
  const back = await browse(String(go.headers.location), "bob");
  const done = await w.app.inject({ method: "GET", url: pathOf(back) });
  assert.equal(done.statusCode, 200, done.body);
  assert.match(done.body, /return to your terminal/);
  assert.doesNotMatch(done.body, /wrn_/, "the token goes to the terminal, not the page");

  const got = (await poll()).json() as { status: string; token: string };
  assert.equal(got.status, "complete");
  const who = await w.app.inject({
    method: "GET",
    url: "/api/v1/whoami",
    headers: { authorization: `Bearer ${got.token}` },
  });
  assert.equal(who.statusCode, 200, who.body);
  assert.equal(who.json().user.name, "bob@other.org");
  // Handed out once.
  assert.equal((await poll()).statusCode, 400);
});

test("mapping config is validated", () => {
  assert.throws(() => parseMapping("{"), /not JSON/);
  assert.throws(() => parseMapping('[{"org":"default","role":"member"}]'), /exactly one of/);
  assert.throws(() => parseMapping('[{"group":"g","org":"default","role":"root"}]'), /valid "role"/);
});
