// OIDC sign-in for the dashboard, through the real ingress listener's control-plane host
// (dashboard-world.ts) and a real OpenID provider on loopback (oidc-world.ts): /auth/oidc on the
// dashboard goes to the start on the OIDC callback's origin (warren.test, reached in-process),
// on to the provider, back to the callback, and on to the dashboard's one-time link, which sets
// the session cookie. The session is bound to the membership; a forged state, a replayed callback
// or a replayed link is refused; the sign-in page is told about OIDC only where it is set up.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import { parseMapping } from "../src/services/oidc.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { type DashboardWorld, dashboardWorld } from "./dashboard-world.ts";
import { browse, cookiesFrom, pathOf, REDIRECT, startProvider } from "./oidc-world.ts";

let w: DashboardWorld;
let provider: Server;

before(async () => {
  const p = await startProvider({
    dave: { email: "dave@dev.test", groups: ["eng"] },
    erin: { email: "erin@dev.test", groups: ["eng"] },
  });
  provider = p.server;
  w = await dashboardWorld({
    oidc: {
      issuer: p.issuer,
      clientId: "warren",
      clientSecret: "warren-secret",
      redirectUrl: REDIRECT,
      mapping: parseMapping(JSON.stringify([{ group: "eng", org: "default", role: "member" }])),
    },
  });
});

after(async () => {
  await w?.close();
  provider?.close();
  provider?.closeAllConnections();
});

const same = { "sec-fetch-site": "same-origin" };
const names = (body: string) => (JSON.parse(body) as { items: { name: string }[] }).items.map((e) => e.name);

/** /auth/oidc on the dashboard, the start on the callback's origin, the provider: the callback URL. */
async function toCallback(login: string): Promise<{ back: string; cookie: string }> {
  const go = await w.request("GET", "/auth/oidc");
  assert.equal(go.status, 302, go.body);
  assert.equal(go.headers.location, "http://warren.test/api/v1/auth/dashboard/oidc", "the callback's origin");
  const start = await w.app.inject({ method: "GET", url: pathOf(String(go.headers.location)) });
  assert.equal(start.statusCode, 302, start.body);
  for (const p of [/[?&]code_challenge_method=S256/, /[?&]state=/, /[?&]nonce=/])
    assert.match(String(start.headers.location), p, "the provider's flow with PKCE, state and nonce");
  const cookie = cookiesFrom(start);
  assert.match(cookie, /^warren_signin_[0-9a-f]{16}=/, "the flow is bound to this browser");
  return { back: await browse(String(start.headers.location), login), cookie };
}

/** The whole sign-in as `login`: the dashboard link, and the cookie pair and CSRF it gives. */
async function signInWithOidc(login: string) {
  const { back, cookie } = await toCallback(login);
  const cb = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie } });
  assert.equal(cb.statusCode, 302, cb.body);
  const link = new URL(String(cb.headers.location));
  assert.equal(`${link.protocol}//${link.host}${link.pathname}`, `${w.origin}/auth/redeem`);
  assert.doesNotMatch(`${cb.body}${JSON.stringify(cb.headers)}`, /wrn_/, "no Warren token is minted");
  const redeem = await w.request("GET", link.pathname + link.search);
  assert.equal(redeem.status, 303, redeem.body);
  assert.equal(redeem.headers.location, "/", "nothing secret left in the address bar");
  const set = String(redeem.headers["set-cookie"]?.[0] ?? "");
  assert.match(set, /^warren_session=[\w-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  const sessionCookie = set.split(";", 1)[0] ?? "";
  const me = await w.request("GET", "/api/v1/auth/dashboard/session", { cookie: sessionCookie, ...same });
  assert.equal(me.status, 200, me.body);
  const s = JSON.parse(me.body) as { csrf: string; user: string; org: string; role: string; via: string };
  return { link, back, flowCookie: cookie, cookie: sessionCookie, ...s };
}

async function userId(name: string): Promise<string> {
  const u = await w.h.store.db.selectFrom("users").select("id").where("name", "=", name).executeTakeFirst();
  assert.ok(u, `user ${name} exists`);
  return u.id;
}

test("OIDC sign-in ends in a cookie session that calls the API with CSRF and Origin", async () => {
  const s = await signInWithOidc("dave");
  assert.deepEqual(
    { user: s.user, org: s.org, role: s.role, via: s.via },
    { user: "dave@dev.test", org: "default", role: "member", via: "oidc" },
  );
  const dave = {
    kind: "user",
    userId: await userId("dave@dev.test"),
    orgId: BOOTSTRAP_ORG_ID,
    role: "member",
  } as const;
  await w.h.envs.create({ ...dave, via: "token" }, { name: "daves" });
  const list = await w.request("GET", "/api/v1/environments", w.own(s));
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(names(list.body), ["daves"], "dave's own environments, not alice's");
  // The cookie alone, without the CSRF token, still authenticates nothing.
  const bare = await w.request("GET", "/api/v1/environments", { cookie: s.cookie, origin: w.origin });
  assert.equal(bare.status, 403, bare.body);

  // The link worked once; the provider's redirect works once.
  const again = await w.request("GET", s.link.pathname + s.link.search);
  assert.equal(again.status, 400, again.body);
  assert.match(again.body, /unknown or was already used/);
  assert.equal(again.headers["set-cookie"], undefined);
  const replay = await w.app.inject({
    method: "GET",
    url: pathOf(s.back),
    headers: { cookie: s.flowCookie },
  });
  assert.equal(replay.statusCode, 401, replay.body);
  assert.match(replay.body, /unknown or was already completed/);
  assert.equal(replay.headers.location, undefined);
});

test("a forged state, or a callback in a browser without the flow's cookie, is refused", async () => {
  const { back, cookie } = await toCallback("erin");
  const forged = new URL(back);
  forged.searchParams.set("state", `${forged.searchParams.get("state")}x`);
  const bad = await w.app.inject({ method: "GET", url: pathOf(forged.toString()), headers: { cookie } });
  assert.equal(bad.statusCode, 401, bad.body);
  assert.equal(bad.headers.location, undefined);
  const elsewhere = await w.app.inject({ method: "GET", url: pathOf(back) });
  assert.equal(elsewhere.statusCode, 401, elsewhere.body);
  assert.match(elsewhere.body, /started in another browser/);
  // The browser that started it can still finish it: nothing above consumed the flow.
  const ok = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie } });
  assert.equal(ok.statusCode, 302, ok.body);
  assert.match(String(ok.headers.location), /\/auth\/redeem\?code=/);
});

test("removing the member ends their OIDC dashboard session at once", async () => {
  const s = await signInWithOidc("erin");
  const before = w.sessions.size();
  const root = {
    kind: "user",
    userId: "usr_root",
    orgId: BOOTSTRAP_ORG_ID,
    role: "owner",
    via: "local-socket",
  };
  await w.identity.removeMember(root as never, "default", await userId("erin@dev.test"));
  assert.equal(w.sessions.size(), before - 1, "the live session ended with the membership");
  const me = await w.request("GET", "/api/v1/auth/dashboard/session", { cookie: s.cookie, ...same });
  assert.equal(me.status, 401, me.body);
  const list = await w.request("GET", "/api/v1/environments", w.own(s));
  assert.equal(list.status, 401, list.body);
});

test("the sign-in page is told about OIDC only where it is set up", async () => {
  const probe = (x: DashboardWorld) => x.request("GET", "/api/v1/auth/dashboard/session", same);
  const withOidc = await probe(w);
  assert.equal(withOidc.status, 401);
  assert.equal(JSON.parse(withOidc.body).details?.oidc, true);

  const plain = await dashboardWorld();
  try {
    const without = await probe(plain);
    assert.equal(without.status, 401);
    assert.equal(JSON.parse(without.body).code, "UNAUTHENTICATED");
    assert.equal(JSON.parse(without.body).details?.oidc, undefined);
    const go = await plain.request("GET", "/auth/oidc");
    assert.equal(go.status, 404);
    assert.match(go.body, /OIDC sign-in is not configured/);
    const start = await plain.app.inject({ method: "GET", url: "/api/v1/auth/dashboard/oidc" });
    assert.equal(start.statusCode, 400, start.body);
    assert.match(start.json<{ message: string }>().message, /not configured/);
  } finally {
    await plain.close();
  }
});
