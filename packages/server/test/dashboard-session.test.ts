// The dashboard's session API over real HTTP through the ingress listener's control-plane host
// (dashboard-world.ts): the cookie's attributes, and that a cookie authenticates only with its
// CSRF token and the dashboard's own Origin; one-time links; sign-out; revocation ending the
// session and its open watch; organisations kept apart; hostile input answered with a clear 4xx.
import assert from "node:assert/strict";
import http, { type IncomingMessage } from "node:http";
import { after, before, test } from "node:test";
import { type DashboardWorld, dashboardWorld } from "./dashboard-world.ts";

let w: DashboardWorld;
before(async () => {
  w = await dashboardWorld();
});
after(() => w?.close());

const names = (body: string) => (JSON.parse(body) as { items: { name: string }[] }).items.map((e) => e.name);

test("a pasted token becomes a host-only, HttpOnly, SameSite=Lax cookie; a wrong one is refused", async () => {
  const s = await w.signIn("alice");
  assert.match(
    s.setCookie,
    /^warren_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax$/,
  );
  assert.doesNotMatch(s.setCookie, /Domain=|Secure/i, "host-only, and not Secure over plain http");
  const me = await w.request("GET", "/api/v1/auth/dashboard/session", {
    cookie: s.cookie,
    "sec-fetch-site": "same-origin",
  });
  assert.equal(me.status, 200, me.body);
  assert.deepEqual(JSON.parse(me.body), {
    csrf: s.csrf,
    user: "alice",
    org: "default",
    role: "member",
    via: "token",
  });
  assert.equal(me.headers["cache-control"], "no-store");

  const wrong = await w.request(
    "POST",
    "/api/v1/auth/dashboard/session",
    { origin: w.origin, "content-type": "application/json" },
    JSON.stringify({ token: "wrn_notarealtoken0000000000000000000000000" }),
  );
  assert.equal(wrong.status, 401);
  assert.equal(JSON.parse(wrong.body).code, "UNAUTHENTICATED");
  assert.equal(wrong.headers["set-cookie"], undefined);
  const none = await w.request("GET", "/api/v1/auth/dashboard/session", { "sec-fetch-site": "same-origin" });
  assert.equal(none.status, 401);
});

test("signing in from another origin (a port URL of the same site) is refused", async () => {
  const r = await w.request(
    "POST",
    "/api/v1/auth/dashboard/session",
    { origin: w.portOrigin, "content-type": "application/json" },
    JSON.stringify({ token: w.users.alice.token }),
  );
  assert.equal(r.status, 403);
  assert.match(JSON.parse(r.body).message, /not the dashboard's own/);
  assert.equal(r.headers["set-cookie"], undefined);
});

test("a cookie authenticates only with its CSRF token and the dashboard's Origin", async () => {
  const s = await w.signIn("alice");
  const list = (headers: Record<string, string>) => w.request("GET", "/api/v1/environments", headers);
  const ok = await list(w.own(s));
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(names(ok.body), ["web"]);
  // A same-origin GET without Origin (what Chrome sends) with Sec-Fetch-Site: same-origin.
  const noOrigin = await list({ cookie: s.cookie, "x-warren-csrf": s.csrf, "sec-fetch-site": "same-origin" });
  assert.equal(noOrigin.status, 200, noOrigin.body);

  const refusals: [string, Record<string, string>, number, RegExp][] = [
    ["no CSRF header", { cookie: s.cookie, origin: w.origin }, 403, /CSRF token/],
    [
      "a wrong CSRF token",
      { cookie: s.cookie, origin: w.origin, "x-warren-csrf": `${s.csrf.slice(1)}x` },
      403,
      /does not match/,
    ],
    ["a port URL's Origin", { ...w.own(s), origin: w.portOrigin }, 403, /not the dashboard's own/],
    ["Origin null", { ...w.own(s), origin: "null" }, 403, /not the dashboard's own/],
    ["no Origin, no Sec-Fetch-Site", { cookie: s.cookie, "x-warren-csrf": s.csrf }, 403, /no Origin/],
    [
      "Sec-Fetch-Site: same-site",
      { cookie: s.cookie, "x-warren-csrf": s.csrf, "sec-fetch-site": "same-site" },
      403,
      /another site/,
    ],
    ["https instead of http", { ...w.own(s), origin: `https://${w.host}` }, 403, /not the dashboard's own/],
    ["no cookie at all", { "x-warren-csrf": s.csrf, origin: w.origin }, 401, /bearer token is required/],
    [
      "an unknown session",
      { ...w.own(s), cookie: "warren_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
      401,
      /unknown or has ended/,
    ],
  ];
  for (const [what, headers, status, message] of refusals) {
    const r = await list(headers);
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.match(JSON.parse(r.body).message, message, what);
  }
  // A state change without Origin is refused even with the CSRF token.
  const post = await w.request(
    "POST",
    "/api/v1/environments/web/stop",
    { cookie: s.cookie, "x-warren-csrf": s.csrf, "content-type": "application/json" },
    "{}",
  );
  assert.equal(post.status, 403);
});

test("another organisation's session cannot see or touch this organisation's environments", async () => {
  const carol = await w.signIn("carol");
  const list = await w.request("GET", "/api/v1/environments", w.own(carol));
  assert.deepEqual(names(list.body), ["theirs"]);
  const get = await w.request("GET", "/api/v1/environments/web", w.own(carol));
  assert.equal(get.status, 404);
  const del = await w.request("DELETE", "/api/v1/environments/web", w.own(carol));
  assert.equal(del.status, 404);
  assert.ok(await w.h.envs.find(w.users.alice, "web"), "alice's environment is still there");
});

test("a one-time link works once, lands on / with no code, and expires after 60 s", async () => {
  const link = await w.app.inject({
    method: "POST",
    url: "/api/v1/auth/dashboard/link",
    headers: { authorization: `Bearer ${w.users.bob.token}` },
  });
  assert.equal(link.statusCode, 200, link.body);
  const { url } = link.json() as { url: string };
  const u = new URL(url);
  assert.equal(u.origin, w.origin);
  assert.equal(u.pathname, "/auth/redeem");
  const first = await w.request("GET", `${u.pathname}${u.search}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, "/", "no code left in the address bar");
  const cookie = String(first.headers["set-cookie"]?.[0]).split(";", 1)[0] ?? "";
  assert.match(cookie, /^warren_session=/);
  const me = await w.request("GET", "/api/v1/auth/dashboard/session", {
    cookie,
    "sec-fetch-site": "same-origin",
  });
  assert.equal(JSON.parse(me.body).via, "link");
  assert.equal(JSON.parse(me.body).user, "bob");
  const again = await w.request("GET", `${u.pathname}${u.search}`);
  assert.equal(again.status, 400);
  assert.match(again.body, /already used/);

  const late = (
    await w.app.inject({
      method: "POST",
      url: "/api/v1/auth/dashboard/link",
      headers: { authorization: `Bearer ${w.users.bob.token}` },
    })
  ).json() as { url: string };
  w.skew(61_000);
  const expired = await w.request("GET", new URL(late.url).pathname + new URL(late.url).search);
  assert.equal(expired.status, 400);
  assert.match(expired.body, /expired/);
  assert.equal(expired.headers["set-cookie"], undefined);
  // Anonymous callers and dashboard cookies cannot make links: a token (or root on the socket) can.
  const anon = await w.request("POST", "/api/v1/auth/dashboard/link", { ...w.own(await w.signIn("bob")) });
  assert.equal(anon.status, 401);
});

test("revoking the token that signed in ends the session and its open watch", async () => {
  const s = await w.signIn("alice");
  const events: string[] = [];
  const stream = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: w.port,
        path: "/api/v1/environments?watch=1",
        headers: { host: w.host, ...w.own(s) },
        agent: false,
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
  assert.equal(stream.statusCode, 200);
  const ended = new Promise<void>((resolve) => stream.on("end", resolve));
  stream.on("data", (c: Buffer) => events.push(c.toString()));
  await until(() => events.join("").includes("BOOKMARK"), "the watch's first events");
  await w.identity.revokeToken(w.users.alice, w.users.alice.tokenId as string);
  await ended;
  assert.match(events.join(""), /event: ERROR\ndata: .*was revoked/);
  const after = await w.request("GET", "/api/v1/environments", w.own(s));
  assert.equal(after.status, 401);
  // A fresh token for the rest of the tests.
  const t = await w.identity.createToken({ ...w.users.alice, tokenId: undefined } as never, {
    name: "again",
  });
  w.users.alice.token = t.token;
  w.users.alice.tokenId = t.id;
});

test("sign-out needs the CSRF token, ends the session and clears the cookie", async () => {
  const s = await w.signIn("bob");
  const forged = await w.request("POST", "/api/v1/auth/dashboard/signout", {
    cookie: s.cookie,
    origin: w.portOrigin,
  });
  assert.equal(forged.status, 403, "a page elsewhere cannot sign the person out");
  const out = await w.request("POST", "/api/v1/auth/dashboard/signout", w.own(s));
  assert.equal(out.status, 204);
  assert.match(
    String(out.headers["set-cookie"]?.[0]),
    /^warren_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/,
  );
  const after = await w.request("GET", "/api/v1/environments", w.own(s));
  assert.equal(after.status, 401);
});

test("a malformed cookie, bad JSON and an oversized body get a clear 4xx", async () => {
  const s = await w.signIn("bob");
  const bad = await w.request("GET", "/api/v1/environments", {
    ...w.own(s),
    cookie: "warren_session=%%%;;=;warren_session",
  });
  assert.equal(bad.status, 401);
  const json = await w.request(
    "POST",
    "/api/v1/auth/dashboard/session",
    { origin: w.origin, "content-type": "application/json" },
    "{nope",
  );
  assert.equal(json.status, 400);
  assert.equal(JSON.parse(json.body).code, "INVALID_ARGUMENT");
  const big = await w.request(
    "POST",
    "/api/v1/auth/dashboard/session",
    { origin: w.origin, "content-type": "application/json" },
    JSON.stringify({ token: "x".repeat(2 * 1024 * 1024) }),
  );
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.body).code, "PAYLOAD_TOO_LARGE");
  const long = await w.request(
    "POST",
    "/api/v1/auth/dashboard/session",
    { origin: w.origin, "content-type": "application/json" },
    JSON.stringify({ token: "x".repeat(600) }),
  );
  assert.equal(long.status, 400);
  const health = await w.request("GET", "/api/v1/health");
  assert.equal(health.status, 200, "the server still answers");
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
