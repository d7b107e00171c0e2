// Port sign-in: single-use codes bound to one host, session cookies, sign-out, revocation (token,
// membership, stricter visibility) and the cross-environment CSRF and WebSocket Origin rules,
// through the real port proxy (port-auth-world.ts) and, for the code's clock, port-sessions alone.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { createPortAuth } from "../src/ingress/port-auth.ts";
import { parsePortHost } from "../src/ingress/port-host.ts";
import { createPortSessions, type PortGrant } from "../src/ingress/port-sessions.ts";
import { silentLogger } from "../src/logger.ts";
import { createLiveSessions } from "../src/services/live-sessions.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { FakeClock } from "./fake-clock.ts";
import { BASE, type PortWorld, portWorld } from "./port-auth-world.ts";

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request to the proxy with the Host of `url` (node's fetch does not let a test set Host). */
function call(
  w: PortWorld,
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Res> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: w.proxyPort,
        method: o.method ?? "GET",
        path: u.pathname + u.search,
        headers: { host: u.host, ...o.headers },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const cookieOf = (r: Res) => {
  const sc = r.headers["set-cookie"];
  const line = Array.isArray(sc) ? sc[0] : sc;
  assert.ok(line, "a Set-Cookie");
  return { line, pair: line.split(";")[0]! };
};

/** Signs `who` in to ENV:PORT through the API's link and the proxy's exchange; returns the cookie pair. */
async function signIn(w: PortWorld, who: "alice" | "bob" | "carol", env: "web" | "api", port: number) {
  const link = await w.signinLink(who, env, port);
  assert.equal(link.status, 200, JSON.stringify(link.body));
  const r = await call(w, link.body.url);
  assert.equal(r.status, 302, r.body);
  return cookieOf(r).pair;
}

/** Polls until `f` is true; returns the ms it took, failing past `ms`. */
async function within(ms: number, f: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (!(await f())) {
    if (performance.now() - t0 > ms) assert.fail(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

let w: PortWorld;
before(async () => {
  w = await portWorld();
});
after(async () => {
  await w?.close();
});

test("codes: single-use, good for 60 s by the injected clock, bound to one host and burned elsewhere", async () => {
  const clock = new FakeClock();
  const live = createLiveSessions({ clock, logger: silentLogger, recheckMs: 0 });
  const s = createPortSessions({ clock, live, codeTtlMs: 10 * 60_000 });
  const grant: PortGrant = {
    host: "3000--web--default.localhost:8080",
    envId: "e1",
    port: 3000,
    envOrgId: "o1",
    ownerId: "u1",
    userId: "u1",
    orgId: "o1",
    role: "member",
    tokenId: "tok1",
    via: "token",
  };
  const a = s.issueCode(grant);
  assert.equal(a.expiresAt - clock.now(), 60_000, "a longer TTL is clamped to 60 s");
  const first = s.exchange(a.code, "3000--web--default.localhost:8080");
  assert.ok(first.ok);
  assert.match(s.exchange(a.code, "3000--web--default.localhost:8080").ok ? "" : "used", /used/);
  assert.ok(s.lookup(first.session.id, "3000--web--default.localhost"), "the port in Host does not matter");
  assert.equal(
    s.lookup(first.session.id, "4000--web--default.localhost"),
    undefined,
    "another host's cookie",
  );

  const b = s.issueCode(grant);
  await clock.advance(59_999);
  assert.ok(s.exchange(b.code, grant.host).ok, "one ms before expiry it works");
  const c = s.issueCode(grant);
  await clock.advance(60_000);
  const late = s.exchange(c.code, grant.host);
  assert.ok(!late.ok && /expired/.test(late.reason), "at 60 s it is refused as expired");

  const d = s.issueCode(grant);
  const wrong = s.exchange(d.code, "3000--api--default.localhost:8080");
  assert.ok(!wrong.ok && /another port URL/.test(wrong.reason));
  assert.ok(!s.exchange(d.code, grant.host).ok, "a code shown on the wrong host is burned");
  live.close();
});

test("a private URL sends a visitor without a session to sign in, and the link lands on the app", async () => {
  const url = w.url("web", 3000);
  const r = await call(w, `${url}/some/page`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, "/__warren/signin");
  const page = await call(w, `${url}/__warren/signin`);
  assert.equal(page.status, 401);
  assert.match(page.body, /warren port open web 3000/);

  const link = await w.signinLink("alice", "web", 3000);
  assert.equal(link.status, 200);
  assert.ok(link.body.url.startsWith(`${url}/__warren/auth?code=`), link.body.url);
  assert.doesNotMatch(link.body.url, /wrn_/, "no token in the URL");
  const ex = await call(w, link.body.url);
  assert.equal(ex.status, 302);
  assert.equal(ex.headers.location, "/");
  const { line, pair } = cookieOf(ex);
  assert.match(line, /^warren_port=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  assert.doesNotMatch(line, /Domain=|Secure/i, "host-only, and plain HTTP here");
  const app = await call(w, `${url}/`, { headers: { cookie: `${pair}; theirs=1` } });
  assert.equal(app.status, 200);
  assert.match(app.body, /hello from web:3000/);
  assert.doesNotMatch(app.body, /warren_port/, "the session cookie never reaches the app");
  assert.match(app.body, /theirs=1/);

  // Used once; a cookie for :3000 is nothing on :4000 or another environment.
  assert.equal((await call(w, link.body.url)).status, 400);
  assert.equal((await call(w, `${w.url("web", 4000)}/`, { headers: { cookie: pair } })).status, 302);
  assert.equal((await call(w, `${w.url("api", 3000)}/`, { headers: { cookie: pair } })).status, 302);
});

test("a code made for one host is refused on another and burned", async () => {
  const link = await w.signinLink("alice", "web", 3000);
  const elsewhere = link.body.url.replace(w.url("web", 3000), w.url("api", 3000));
  const r = await call(w, elsewhere);
  assert.equal(r.status, 400);
  assert.match(r.body, /another port URL/);
  assert.equal((await call(w, link.body.url)).status, 400, "burned by the wrong host");
});

test("on HTTPS the cookie is __Host- prefixed and Secure", async () => {
  const clock = new FakeClock();
  const live = createLiveSessions({ clock, logger: silentLogger, recheckMs: 0 });
  const s = createPortSessions({ clock, live });
  const auth = createPortAuth({ sessions: s, scheme: "https", parseHost: (h) => parsePortHost(h, BASE) });
  const host = "3000--web--default.localhost";
  const { code } = s.issueCode({
    host,
    envId: "e",
    port: 3000,
    envOrgId: "o",
    ownerId: "u",
    userId: "u",
    orgId: "o",
    role: "member",
    via: "oidc",
  });
  const headers: Record<string, unknown> = {};
  const res = {
    writeHead: (_s: number, h: Record<string, unknown>) => Object.assign(headers, h),
    end: () => {},
  };
  const req = { url: `/__warren/auth?code=${code}`, method: "GET", headers: { host } };
  assert.ok(await auth.handleAuthPath(req as never, res as never));
  assert.match(
    String(headers["set-cookie"]),
    /^__Host-warren_port=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure$/,
  );
  live.close();
});

test("other members get the same 404 as an unknown port for a private port; an org port admits them", async () => {
  const unknown = await w.signinLink("bob", "nope", 3000);
  const bob = await w.signinLink("bob", "web", 3000);
  const carol = await w.signinLink("carol", "web", 3000);
  assert.equal(bob.status, 404);
  assert.equal(carol.status, 404);
  assert.equal(bob.body.code, "ENV_NOT_FOUND");
  assert.equal(bob.body.code, unknown.body.code);
  assert.equal(bob.body.message, unknown.body.message.replace("nope", "web"));

  await w.ports.set(w.users.alice, "web", 4000, "org");
  const pair = await signIn(w, "bob", "web", 4000);
  const app = await call(w, `${w.url("web", 4000)}/`, { headers: { cookie: pair } });
  assert.equal(app.status, 200);
  assert.match(app.body, /hello from web:4000/);
  assert.equal((await w.signinLink("carol", "web", 4000)).status, 404, "another organisation's user");
});

test("state-changing requests from another environment's page are refused; same env and safe methods pass", async () => {
  await w.ports.set(w.users.alice, "web", 3000, "private");
  const pair = await signIn(w, "alice", "web", 3000);
  const url = `${w.url("web", 3000)}/api`;
  const post = (headers: Record<string, string>) =>
    call(w, url, {
      method: "POST",
      headers: { cookie: pair, "content-type": "text/plain", ...headers },
      body: "x",
    });
  const foreign = await post({ origin: w.url("api", 3000) });
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /another environment/);
  assert.equal((await post({ referer: `${w.url("api", 4000)}/form` })).status, 403, "Referer without Origin");
  assert.equal((await post({ origin: "null" })).status, 403, "opaque origin");
  assert.equal((await post({ origin: w.url("web", 3000) })).status, 200, "its own page");
  assert.equal(
    (await post({ origin: w.url("web", 4000) })).status,
    200,
    "another port of the same environment",
  );
  assert.equal((await post({})).status, 200, "no Origin: not a browser's cross-site request");
  const get = await call(w, url, { headers: { cookie: pair, origin: w.url("api", 3000) } });
  assert.equal(get.status, 200, "GET is not state-changing");
});

test("WebSocket upgrades need the port's own origin (or its environment's); a foreign Origin is refused", async () => {
  const pair = await signIn(w, "alice", "web", 3000);
  const ws = (origin?: string) =>
    new Promise<string>((resolve, reject) => {
      const s = new WebSocket(`ws://127.0.0.1:${w.proxyPort}/ws`, {
        headers: { host: new URL(w.url("web", 3000)).host, cookie: pair },
        ...(origin ? { origin } : {}),
      });
      s.on("open", () => s.send("hi"));
      s.on("message", (m) => {
        resolve(m.toString());
        s.close();
      });
      s.on("unexpected-response", (_req, res) => {
        let b = "";
        res.on("data", (c: Buffer) => {
          b += c.toString();
        });
        res.on("end", () =>
          reject(new Error(`status ${res.statusCode}: ${JSON.stringify(b.replace(/<[^>]*>/g, " "))}`)),
        );
      });
      s.on("error", reject);
    });
  assert.equal(await ws(w.url("web", 3000)), "echo:hi");
  assert.equal(await ws(), "echo:hi", "no Origin: a non-browser client");
  await assert.rejects(ws(w.url("api", 3000)), /status 403/);
  await assert.rejects(ws("http://evil.example"), /status 403/);
});

test("sign-out ends the session and clears the cookie", async () => {
  const pair = await signIn(w, "alice", "web", 3000);
  const url = w.url("web", 3000);
  assert.equal((await call(w, `${url}/`, { headers: { cookie: pair } })).status, 200);
  const out = await call(w, `${url}/__warren/signout`, { headers: { cookie: pair } });
  assert.equal(out.status, 200);
  assert.match(cookieOf(out).line, /^warren_port=; Path=\/; Max-Age=0;/);
  assert.equal(
    (await call(w, `${url}/`, { headers: { cookie: pair } })).status,
    302,
    "the old cookie is dead",
  );
});

test("revoking the token, removing the member, or tightening the port ends access within 1 s", async () => {
  await w.ports.set(w.users.alice, "web", 4000, "org");
  const url = `${w.url("web", 4000)}/`;
  const alive = async (pair: string) => (await call(w, url, { headers: { cookie: pair } })).status === 200;

  // Tightening: org -> private ends bob's session and keeps alice's (the owner's).
  const bobs = await signIn(w, "bob", "web", 4000);
  const alices = await signIn(w, "alice", "web", 4000);
  assert.ok(await alive(bobs));
  await w.ports.set(w.users.alice, "web", 4000, "private");
  const tightened = await within(1000, async () => !(await alive(bobs)));
  assert.ok(await alive(alices), "the owner keeps access to a private port");

  // Token revoked: a session signed in with that token ends.
  await w.ports.set(w.users.alice, "web", 4000, "org");
  const bob2 = await signIn(w, "bob", "web", 4000);
  assert.ok(await alive(bob2));
  await w.identity.revokeToken(w.users.bob, w.users.bob.tokenId!);
  const revoked = await within(1000, async () => !(await alive(bob2)));

  // Member removed: alice's session (another token of hers) ends when she leaves.
  const alice2 = await signIn(w, "alice", "web", 4000);
  assert.ok(await alive(alice2));
  const root = {
    kind: "user",
    userId: "usr_root",
    orgId: BOOTSTRAP_ORG_ID,
    role: "owner",
    via: "local-socket",
  } as const;
  await w.identity.removeMember(root, BOOTSTRAP_ORG_ID, w.users.alice.userId);
  const removed = await within(1000, async () => !(await alive(alice2)));
  assert.ok(!(await alive(alices)));
  console.log(
    `ended after: tightened ${tightened.toFixed(1)} ms, token revoked ${revoked.toFixed(1)} ms, member removed ${removed.toFixed(1)} ms`,
  );
});
