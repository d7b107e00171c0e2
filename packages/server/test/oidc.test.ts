// OIDC sign-in against a real OpenID provider (the npm package oidc-provider) on loopback
// (oidc-world.ts), including two Warren replicas sharing one database.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { afterEach, test } from "node:test";
import type { ErrorBody } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { parseMapping } from "../src/services/oidc.ts";
import { upsertMembership } from "../src/store/queries/identity.ts";
import {
  browse,
  confirmDevice,
  json,
  oidcWorld,
  pathOf,
  REDIRECT,
  signIn,
  startFlow,
  type World,
  whoami,
} from "./oidc-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});
const setup = async () => {
  w = await oidcWorld();
  return w;
};

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const TEN_MINUTES = 10 * 60_000;

async function signInRecords(w: World) {
  return w.db.selectFrom("audit_records").selectAll().where("action", "=", "auth.sign-in").execute();
}
const count = async (w: World, table: "oidc_flows" | "device_codes") =>
  (await w.db.selectFrom(table).selectAll().execute()).length;

test("sign-in through the provider yields a Warren token; the provider's own tokens are refused", async () => {
  const w = await setup();
  const res = await signIn(w.app, "alice");
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { token: string; role: string; org: string; user: string };
  assert.match(body.token, /^wrn_[0-9A-Za-z]{43}$/);
  assert.equal(body.role, "admin");
  assert.equal(body.user, "alice@example.com");
  const who = await whoami(w.app, body.token);
  assert.equal(who.user.name, "alice@example.com");
  assert.equal(who.role, "admin");
  const link = await w.db.selectFrom("oidc_identities").selectAll().execute();
  assert.deepEqual(
    link.map((l) => [l.issuer, l.subject, l.user_id, l.email]),
    [[w.issuer, "alice", who.user.id, "alice@example.com"]],
  );

  // A second sign-in reuses the user; a group mapping gives bob a member role.
  const bob = await signIn(w.app, "bob");
  assert.equal(bob.statusCode, 200, bob.body);
  assert.equal(bob.json().role, "member");
  const rows = await signInRecords(w);
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.result === "ok"));

  // The provider's own ID and access tokens, got directly from it, never pass as Warren tokens.
  const { idToken, accessToken } = await providerTokens(w.app, "alice");
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
async function providerTokens(app: FastifyInstance, login: string) {
  const start = await app.inject({ method: "GET", url: "/api/v1/auth/oidc/start" });
  const loc = new URL(String(start.headers.location));
  // Our own PKCE pair: the thief knows the verifier for the challenge it sends.
  const verifier = "v".repeat(64);
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
  const res = await signIn(w.app, "mallory");
  assert.equal(res.statusCode, 401, res.body);
  const err = res.json() as ErrorBody;
  assert.equal(err.code, "UNAUTHENTICATED");
  assert.match(err.message, /mallory@evil\.test" matches no rule of this server's OIDC mapping/);
  const users = await w.db.selectFrom("users").selectAll().where("name", "=", "mallory@evil.test").execute();
  assert.equal(users.length, 0, "no user is created");
  assert.equal((await w.db.selectFrom("oidc_identities").selectAll().execute()).length, 0);
  const rows = await signInRecords(w);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.result, "denied");
});

test("an email changed at the provider is the same Warren user, renamed", async () => {
  const w = await setup();
  const first = await whoami(w.app, (await signIn(w.app, "alice")).json().token);
  w.accounts["alice"]!.email = "alice.smith@example.com";
  const res = await signIn(w.app, "alice");
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().user, "alice.smith@example.com");
  const second = await whoami(w.app, res.json().token);
  assert.equal(second.user.id, first.user.id);
  assert.equal(second.user.name, "alice.smith@example.com");
  const link = await w.db.selectFrom("oidc_identities").selectAll().execute();
  assert.deepEqual(
    link.map((l) => [l.subject, l.user_id, l.email]),
    [["alice", first.user.id, "alice.smith@example.com"]],
  );
  assert.equal((await w.db.selectFrom("users").selectAll().where("id", "like", "usr_%").execute()).length, 2);
});

test("another subject with the same email is a different user and gets none of the first one's roles", async () => {
  const w = await setup();
  const alice = await whoami(w.app, (await signIn(w.app, "alice")).json().token);
  // An owner made alice owner by hand; the mapping alone gives example.com admin.
  await upsertMembership(w.db, {
    org_id: "org_default",
    user_id: alice.user.id,
    role: "owner",
    created_at: "t",
  });
  // A second account at the provider now holds alice's address (a re-assigned mailbox).
  w.accounts["alice-2"] = { email: "alice@example.com", groups: [] };
  const res = await signIn(w.app, "alice-2");
  assert.equal(res.statusCode, 200, res.body);
  const other = await whoami(w.app, res.json().token);
  assert.notEqual(other.user.id, alice.user.id);
  assert.equal(other.role, "admin", "the mapped role, not alice's owner role");
  // users.name stays unique: the newcomer's name is the email tagged with its identity.
  assert.match(other.user.name, /^alice@example\.com \([0-9a-f]{8}\)$/);
  assert.equal((await whoami(w.app, (await signIn(w.app, "alice")).json().token)).role, "owner");
  const subjects = await w.db
    .selectFrom("oidc_identities")
    .select(["subject", "user_id"])
    .orderBy("subject")
    .execute();
  assert.deepEqual(
    subjects.map((s) => [s.subject, s.user_id]),
    [
      ["alice", alice.user.id],
      ["alice-2", other.user.id],
    ],
  );
});

test("a browser sign-in started on one replica finishes on another", async () => {
  const w = await setup();
  const b = w.replica();
  const res = await signIn(w.app, "alice", b.app);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await whoami(w.app, res.json().token)).user.name, "alice@example.com");
  // Only digests of the state and nonce are stored, and the row is gone once used.
  const start = await b.app.inject({ method: "GET", url: "/api/v1/auth/oidc/start" });
  const state = new URL(String(start.headers.location)).searchParams.get("state")!;
  const rows = await w.db.selectFrom("oidc_flows").selectAll().execute();
  assert.deepEqual(
    rows.map((r) => r.state_hash),
    [sha256(state)],
  );
});

async function deviceCode(app: FastifyInstance) {
  const dc = await app.inject({ method: "POST", url: "/api/v1/auth/device", payload: {} });
  assert.equal(dc.statusCode, 200, dc.body);
  return dc.json() as { device_code: string; user_code: string; verification_uri: string; interval: number };
}
const poll = (app: FastifyInstance, device_code: string) =>
  app.inject({ method: "POST", url: "/api/v1/auth/device/token", payload: { device_code } });

test("the device-code flow: code, browser sign-in with the user code, poll gets a token", async () => {
  const w = await setup();
  const d = await deviceCode(w.app);
  assert.match(d.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(d.verification_uri, "http://warren.test/api/v1/auth/device/verify");
  assert.equal((await poll(w.app, d.device_code)).json().status, "authorization_pending");
  assert.equal((await poll(w.app, d.device_code)).json().status, "slow_down");
  const stored = await w.db.selectFrom("device_codes").selectAll().execute();
  assert.deepEqual(
    stored.map((r) => r.code_hash),
    [sha256(d.device_code)],
    "the device code is stored only as a digest",
  );

  // The page asks for the code; submitting it shows the confirmation, which starts the browser flow.
  const form = await w.app.inject({ method: "GET", url: "/api/v1/auth/device/verify" });
  assert.equal(form.statusCode, 200);
  assert.match(form.body, /name="user_code"/);
  const typed = d.user_code.toLowerCase().replace("-", "");
  const go = await confirmDevice(w.app, typed);
  const back = await browse(go.loc, "bob");
  const done = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie: go.cookie } });
  assert.equal(done.statusCode, 200, done.body);
  assert.match(done.body, /return to your terminal/);
  assert.doesNotMatch(done.body, /wrn_/, "the token goes to the terminal, not the page");
  // The user code is spent: a second browser cannot approve it again.
  const reuse = await w.app.inject({ method: "GET", url: `/api/v1/auth/device/verify?user_code=${typed}` });
  assert.equal(reuse.statusCode, 400);
  assert.match(reuse.json().message, /already used/);

  const got = (await poll(w.app, d.device_code)).json() as { status: string; token: string };
  assert.equal(got.status, "complete");
  assert.equal((await whoami(w.app, got.token)).user.name, "bob@other.org");
  // Handed out once.
  const after = await poll(w.app, d.device_code);
  assert.equal(after.statusCode, 400);
  assert.match(after.json().message, /unknown or its token was already collected/);
});

test("a device code spans replicas and is redeemed once when two replicas race", async () => {
  const w = await setup();
  const b = w.replica();
  const d = await deviceCode(w.app);
  const go = await confirmDevice(b.app, d.user_code);
  const back = await browse(go.loc, "alice");
  const done = await w.app.inject({
    method: "GET",
    url: pathOf(back),
    headers: { ...json, cookie: go.cookie },
  });
  assert.equal(done.statusCode, 200, done.body);
  assert.equal(done.json().token, "(delivered to the terminal)");

  const polls = await Promise.all([w.app, b.app, w.app, b.app].map((app) => poll(app, d.device_code)));
  const complete = polls.filter((p) => p.statusCode === 200);
  assert.equal(complete.length, 1, polls.map((p) => p.body).join("\n"));
  assert.equal(complete[0]!.json().status, "complete");
  assert.ok(polls.filter((p) => p !== complete[0]).every((p) => p.statusCode === 400));
  const tokens = await w.db.selectFrom("api_tokens").selectAll().where("name", "=", "oidc sign-in").execute();
  assert.equal(tokens.length, 1, "exactly one token minted");
  assert.equal(await count(w, "device_codes"), 0);
});

test("expired sign-ins are refused with a clear message and swept", async () => {
  const w = await setup();
  const start = await startFlow(w.app);
  const state = new URL(start.loc).searchParams.get("state")!;
  const d = await deviceCode(w.app);
  const stale = await deviceCode(w.app);
  w.advance(TEN_MINUTES + 1000);

  const cb = await w.app.inject({
    method: "GET",
    url: `/api/v1/auth/oidc/callback?code=x&state=${state}`,
    headers: { ...json, cookie: start.cookie },
  });
  assert.equal(cb.statusCode, 401, cb.body);
  assert.match(
    cb.json().message,
    /sign-in expired: it must finish within 10 minutes of starting; start again/,
  );
  assert.equal(await count(w, "oidc_flows"), 0, "the expired flow is gone");

  const p = await poll(w.app, d.device_code);
  assert.equal(p.statusCode, 400, p.body);
  assert.match(p.json().message, /device code expired \(codes last 10 minutes\); run `warren login` again/);
  const verify = await w.app.inject({
    method: "GET",
    url: `/api/v1/auth/device/verify?user_code=${stale.user_code}`,
  });
  assert.equal(verify.statusCode, 400, verify.body);
  assert.match(verify.json().message, /expired \(codes last 10 minutes\)/);
  assert.equal(await count(w, "device_codes"), 1, "the stale code is still there until a sweep");

  // Making a new sign-in sweeps whatever expired, on whichever replica.
  const fresh = await deviceCode(w.replica().app);
  const left = await w.db.selectFrom("device_codes").select("code_hash").execute();
  assert.deepEqual(
    left.map((r) => r.code_hash),
    [sha256(fresh.device_code)],
  );
  w.advance(TEN_MINUTES + 1000);
  assert.equal(await w.oidc.sweep(), 1);
  assert.equal(await count(w, "device_codes"), 0);
});

test("mapping config is validated", () => {
  assert.throws(() => parseMapping("{"), /not JSON/);
  assert.throws(() => parseMapping('[{"org":"default","role":"member"}]'), /exactly one of/);
  assert.throws(() => parseMapping('[{"group":"g","org":"default","role":"root"}]'), /valid "role"/);
});
