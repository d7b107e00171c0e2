// What the audit trail covers beyond environments, tokens and secrets, and what it stores:
// - registry logins, image import/remove/prune and base-image mirror changes, runner connections;
// - failed authentication: recorded (a bounded number per IP per minute) and limited per IP with
//   Retry-After, before the token is even looked up;
// - every field bounded and with control characters escaped, as stored and as `audit ls` prints.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import http from "node:http";
import path from "node:path";
import { afterEach, test } from "node:test";
import { AUDIT_FIELD_MAX, escapeControlChars, WarrenError } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AUDITED_PER_IP_MINUTE } from "../src/http/auth-failures.ts";
import { build } from "../src/http/build.ts";
import { auditRunnerLink } from "../src/http/runner-audit.ts";
import { type AuditService, createAuditService } from "../src/services/audit.ts";
import { createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { FakeClock } from "./fake-clock.ts";

let apps: FastifyInstance[] = [];
let h: Harness | undefined;
afterEach(async () => {
  for (const a of apps) await a.close();
  await h?.close();
  apps = [];
  h = undefined;
});

interface World {
  local: FastifyInstance;
  remote: FastifyInstance;
  clock: FakeClock;
  audit: AuditService;
  identity: IdentityService;
}

async function setup(limits?: { authFailuresPerMinute: number; authFailureBurst: number }): Promise<World> {
  h = await harness();
  const db = h.store.db;
  const clock = new FakeClock(Date.parse("2026-03-01T00:00:00Z"));
  const audit = createAuditService({ db, clock });
  const identity = createIdentityService({ db, clock });
  const registries = createRegistryLoginService({ db, clock, secrets: secretBox(h.dir) });
  const mk = (transport: "local" | "tls") => {
    const app = build({
      envs: h!.envs,
      classes: h!.classes,
      images: createImageService({ runner: h!.runner, logins: registries, db, clock }),
      registries,
      runner: h!.runner,
      logger: false,
      identity,
      transport,
      db,
      clock,
      audit,
      ...(limits ? { rateLimit: { ratePerSecond: 1000, burst: 1000, ...limits } } : {}),
    });
    apps.push(app);
    return app;
  };
  return { local: mk("local"), remote: mk("tls"), clock, audit, identity };
}

const records = () => h!.store.db.selectFrom("audit_records").selectAll().orderBy("id").execute();
const settle = () => new Promise((r) => setTimeout(r, 50)); // streamed outcomes record when the work ends

test("registry logins, image import/remove/prune and base-image mirror changes are recorded", async () => {
  const w = await setup();
  const call = (method: "PUT" | "DELETE" | "POST", url: string, payload?: object) =>
    w.local.inject({ method, url, ...(payload ? { payload } : {}) });
  assert.equal(
    (await call("PUT", "/api/v1/registries/reg.example", { username: "u", password: "p" })).statusCode,
    200,
  );
  assert.equal((await call("DELETE", "/api/v1/registries/reg.example")).statusCode, 200);
  const imported = await call("POST", "/api/v1/images/import", { path: "/srv/app.tar", ref: "acme/app:1" });
  assert.equal(imported.statusCode, 200, imported.body);
  h!.runner.addImage("acme/old:1");
  assert.equal((await call("DELETE", `/api/v1/images/${encodeURIComponent("acme/old:1")}`)).statusCode, 200);
  assert.equal((await call("POST", "/api/v1/images/prune")).statusCode, 200);
  assert.equal((await call("POST", "/api/v1/images/base", {})).statusCode, 200);
  const mirror = await call("POST", "/api/v1/images/base", { mirror: "http://mirror.example/debian" });
  assert.equal(mirror.statusCode, 200, mirror.body);
  await settle();
  const got = (await records()).map((r) => [r.action, r.target, r.result, r.actor]);
  assert.deepEqual(got, [
    ["registry.login", "reg.example", "ok", "local-root"],
    ["registry.logout", "reg.example", "ok", "local-root"],
    ["image.import", "acme/app:1 <- /srv/app.tar", "ok", "local-root"],
    ["image.remove", "acme/old:1", "ok", "local-root"],
    ["image.prune", "images", "ok", "local-root"],
    // The plain base build (no mirror) is routine and not recorded; the mirror change is.
    ["image.base-mirror", "http://mirror.example/debian", "ok", "local-root"],
  ]);
});

test("a streamed operation that fails in-band is recorded with its error", async () => {
  const w = await setup();
  h!.runner.failNext("importImage", new WarrenError("IMAGE_CORRUPT", "bad layer"));
  const res = await w.local.inject({
    method: "POST",
    url: "/api/v1/images/import",
    payload: { path: "/srv/bad.tar", ref: "acme/bad:1" },
  });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /IMAGE_CORRUPT/);
  await settle();
  const [r] = await records();
  assert.deepEqual([r?.action, r?.result, r?.code], ["image.import", "error", "IMAGE_CORRUPT"]);
});

test("runner connect and disconnect are recorded, a reconnect loop only a few times a minute", async () => {
  const w = await setup();
  const req = { ip: "192.0.2.7", log: { warn() {} } } as unknown as FastifyRequest;
  const p = { orgId: BOOTSTRAP_ORG_ID, tokenId: "tok_runner1" };
  const sockets: EventEmitter[] = [];
  for (let i = 0; i < 8; i++) {
    const s = new EventEmitter();
    sockets.push(s);
    auditRunnerLink(w.audit, req, p, s, "host-a", () => w.clock.now());
  }
  for (const s of sockets) s.emit("close", 1000, Buffer.from("bye"));
  await settle();
  const rs = await records();
  const connects = rs.filter((r) => r.action === "runner.connect");
  const disconnects = rs.filter((r) => r.action === "runner.disconnect");
  assert.equal(connects.length, 5, "a few per token per minute");
  assert.equal(disconnects.length, 5, "a disconnect for each recorded connect");
  assert.deepEqual(
    [connects[0]?.actor, connects[0]?.target, connects[0]?.source_address],
    ["runner:tok_runner1", "host-a", "192.0.2.7"],
  );
  assert.equal(disconnects[0]?.target, "host-a: 1000 bye");
  await w.clock.advance(60_000);
  auditRunnerLink(w.audit, req, p, new EventEmitter(), "host-a", () => w.clock.now());
  await settle();
  assert.equal(
    (await records()).filter((r) => r.action === "runner.connect").length,
    6,
    "a new minute records again",
  );
});

test("failed authentication is recorded, under the token's organisation when it is known, a few per IP", async () => {
  const w = await setup();
  const bad = "wrn_" + "A".repeat(43);
  for (let i = 0; i < AUDITED_PER_IP_MINUTE + 3; i++) {
    const res = await w.remote.inject({
      method: "GET",
      url: "/api/v1/whoami",
      headers: { authorization: `Bearer ${bad}` },
    });
    assert.equal(res.statusCode, 401);
  }
  let rs = await records();
  assert.equal(rs.length, AUDITED_PER_IP_MINUTE, "the rest only reach the log");
  assert.deepEqual(
    [rs[0]?.action, rs[0]?.actor, rs[0]?.result, rs[0]?.code, rs[0]?.org_id],
    ["auth.failed", "anonymous", "denied", "UNAUTHENTICATED", BOOTSTRAP_ORG_ID],
  );
  // A new minute: a revoked token is filed under its organisation, naming it.
  await w.clock.advance(60_000);
  const now = new Date(w.clock.now()).toISOString();
  await h!.store.db.insertInto("orgs").values({ id: "org_t", name: "t", created_at: now }).execute();
  const t = await w.identity.createRunnerToken(
    { kind: "user", userId: "usr_root", orgId: "org_t", role: "owner", via: "local-socket" },
    { name: "r" },
  );
  await h!.store.db.updateTable("api_tokens").set({ revoked_at: now }).where("id", "=", t.id).execute();
  const res = await w.remote.inject({
    method: "GET",
    url: "/api/runner/v1/ping",
    headers: { authorization: `Bearer ${t.token}` },
  });
  assert.equal(res.statusCode, 401);
  rs = await records();
  const last = rs.at(-1)!;
  assert.deepEqual([last.org_id, last.target], ["org_t", `${t.id}: the token was revoked`]);
  // A missing token is not a failed authentication: nothing guessed, nothing recorded.
  await w.remote.inject({ method: "GET", url: "/api/v1/whoami" });
  assert.equal((await records()).length, rs.length);
});

test("failed authentication is limited per IP with Retry-After, before any token is checked", async () => {
  const w = await setup({ authFailuresPerMinute: 6, authFailureBurst: 3 });
  const bad = "wrn_" + "B".repeat(43);
  const alice = await w.identity.createToken(
    { kind: "user", userId: "usr_root", orgId: BOOTSTRAP_ORG_ID, role: "owner", via: "token" },
    { name: "good" },
  );
  const call = (token: string, ip = "198.51.100.1") =>
    w.remote.inject({
      method: "GET",
      url: "/api/v1/whoami",
      remoteAddress: ip,
      headers: { authorization: `Bearer ${token}` },
    });
  for (let i = 0; i < 3; i++) assert.equal((await call(bad)).statusCode, 401);
  const limited = await call(bad);
  assert.equal(limited.statusCode, 429, limited.body);
  assert.equal(limited.headers["retry-after"], "10");
  assert.equal(limited.json().code, "RATE_LIMITED");
  // While limited, even a good token from that IP gets no answer about itself.
  assert.equal((await call(alice.token)).statusCode, 429);
  // Another IP is not affected, and successes never count.
  for (let i = 0; i < 10; i++) assert.equal((await call(alice.token, "198.51.100.2")).statusCode, 200);
  // Once a token has refilled (6 per minute: one every 10 s), the IP may try again.
  await w.clock.advance(10_000);
  assert.equal((await call(alice.token)).statusCode, 200);
  // Connections over the local unix socket (root's) are never limited: a real socket, since an
  // injected request always has an address.
  const sock = path.join(h!.dir, "api.sock");
  await w.local.listen({ path: sock });
  const overSocket = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { socketPath: sock, path: "/api/v1/whoami", headers: { authorization: `Bearer ${bad}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
  for (let i = 0; i < 6; i++) assert.equal(await overSocket(), 401);
});

test("audit fields are stored bounded and with control characters escaped; audit ls escapes again", async () => {
  const w = await setup();
  const hostile = "\x1b[2J\x1b[31mOK\r\n2026-01-01 fake-row\u202e\u0085";
  await w.audit.record({
    orgId: BOOTSTRAP_ORG_ID,
    actor: `runner:${"x".repeat(1000)}`,
    action: "runner.protocol-violation",
    target: hostile + "y".repeat(10_000),
    sourceAddress: "203.0.113.9\x07",
    result: "denied",
    code: "INVALID_ARGUMENT",
  });
  const [r] = await records();
  assert.ok(r);
  assert.ok(
    r.target.startsWith("\\x1b[2J\\x1b[31mOK\\x0d\\x0a2026-01-01 fake-row\\u{202e}\\x85y"),
    r.target.slice(0, 80),
  );
  assert.equal(r.target.length, AUDIT_FIELD_MAX.target);
  assert.ok(r.target.endsWith("…"));
  assert.equal(r.actor.length, AUDIT_FIELD_MAX.actor);
  assert.equal(r.source_address, "203.0.113.9\\x07");
  // Nothing a terminal would act on is left in any field.
  const control = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  for (const v of [r.actor, r.action, r.target, r.source_address, r.code ?? ""])
    assert.ok(!control.test(v), v);
  // What `warren audit ls` prints for a record stored before escaping (or by another server).
  assert.equal(escapeControlChars("a\x1b]0;title\x07b\u2066c"), "a\\x1b]0;title\\x07b\\u{2066}c");
  assert.equal(escapeControlChars("plain text, ünïcödé"), "plain text, ünïcödé");
});
