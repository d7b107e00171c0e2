// The audit trail, in-process: every audited action writes exactly one record (ok or not), reads
// write none, the log is admin-only and org-scoped, and the retention sweep removes only old rows.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { system } from "../src/services/actor.ts";
import { LOCAL_ROOT } from "../src/services/identity.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { auditCount, bearer, lastRecord, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

type Req = { method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"; url: string; payload?: object };

/** Runs `req` and asserts it wrote exactly one record with this action, result and actor. */
async function once(
  app: FastifyInstance,
  req: Req & { headers?: Record<string, string> },
  want: { action: string; result: string; actor: string; target?: string; status?: number },
) {
  const before = await auditCount(w!);
  const res = await app.inject(req);
  if (want.status !== undefined) assert.equal(res.statusCode, want.status, res.body);
  assert.equal(await auditCount(w!), before + 1, `${req.method} ${req.url} writes one record`);
  const r = await lastRecord(w!);
  assert.equal(r.action, want.action);
  assert.equal(r.result, want.result, `${req.method} ${req.url}: ${res.body}`);
  assert.equal(r.actor, want.actor);
  if (want.target !== undefined) assert.equal(r.target, want.target);
  return { res, record: r };
}

test("every audited action writes exactly one record, with actor and result", async () => {
  w = await world();
  const L = w.local;
  const root = "local-root";
  const E = "/api/v1/environments";
  await once(
    L,
    { method: "POST", url: E, payload: { name: "dev" } },
    { action: "environment.create", result: "ok", actor: root, target: "dev", status: 201 },
  );
  await once(
    L,
    { method: "PATCH", url: `${E}/dev`, payload: { pids: 500 } },
    { action: "environment.resize", result: "ok", actor: root, target: "dev" },
  );
  await once(
    L,
    { method: "POST", url: `${E}/dev/stop`, payload: {} },
    { action: "environment.stop", result: "ok", actor: root, status: 200 },
  );
  await once(
    L,
    { method: "POST", url: `${E}/dev/start`, payload: {} },
    { action: "environment.start", result: "ok", actor: root, status: 200 },
  );

  // exec sessions: one record per session opened (a WebSocket, so recorded by exec-ws.ts).
  const before = await auditCount(w);
  const ws = await L.injectWS(`${E}/dev/exec?cmd=${encodeURIComponent('["true"]')}`);
  for (let i = 0; i < 100 && (await auditCount(w)) === before; i++)
    await new Promise((r) => setTimeout(r, 10));
  ws.terminate();
  assert.equal(await auditCount(w), before + 1);
  const ex = await lastRecord(w);
  assert.deepEqual([ex.action, ex.result, ex.target, ex.actor], ["exec.open", "ok", "dev", root]);

  const { record } = await once(
    L,
    { method: "POST", url: "/api/v1/tokens", payload: { name: "ci" } },
    { action: "token.create", result: "ok", actor: root, status: 201 },
  );
  assert.match(record.target, /^tok_/);
  await once(
    L,
    { method: "POST", url: "/api/v1/admin/runner-tokens", payload: { name: "r1" } },
    { action: "token.create", result: "ok", actor: root },
  );
  await once(
    L,
    { method: "DELETE", url: `/api/v1/tokens/${record.target}` },
    { action: "token.revoke", result: "ok", actor: root, target: record.target, status: 204 },
  );
  const M = "/api/v1/orgs/default/members";
  await once(
    L,
    { method: "POST", url: M, payload: { name: "carol", role: "member" } },
    { action: "membership.set", result: "ok", actor: root, target: "default/carol" },
  );
  await once(
    L,
    { method: "POST", url: M, payload: { name: "carol", role: "admin" } },
    { action: "membership.set", result: "ok", actor: root },
  );
  await once(
    L,
    { method: "DELETE", url: `${M}/carol` },
    { action: "membership.remove", result: "ok", actor: root, target: "default/carol" },
  );
  const cls = { name: "big", cpus: 4, memory: "8g", disk: "50g" };
  await once(
    L,
    { method: "POST", url: "/api/v1/classes", payload: cls },
    { action: "class.create", result: "ok", actor: root, target: "big" },
  );
  await once(
    L,
    { method: "POST", url: "/api/v1/classes", payload: cls },
    { action: "class.create", result: "error", actor: root, status: 409 },
  );
  await once(
    L,
    { method: "DELETE", url: "/api/v1/classes/big" },
    { action: "class.delete", result: "ok", actor: root },
  );
  await once(
    L,
    { method: "PUT", url: "/api/v1/orgs/default/quotas", payload: { cpus: 64 } },
    { action: "quota.set", result: "ok", actor: root, target: "default" },
  );
  await once(
    L,
    { method: "DELETE", url: `${E}/dev?force=1` },
    { action: "environment.delete", result: "ok", actor: root, status: 204 },
  );
  const failed = await once(
    L,
    { method: "DELETE", url: `${E}/dev` },
    { action: "environment.delete", result: "denied", actor: root, status: 404 },
  );
  assert.equal(failed.record.code, "ENV_NOT_FOUND");
  assert.equal(failed.record.org_id, BOOTSTRAP_ORG_ID);
});

test("reads write nothing, and an Idempotency-Key replay is not a second action", async () => {
  w = await world();
  const L = w.local;
  await L.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  const before = await auditCount(w);
  for (const url of [
    "/api/v1/environments",
    "/api/v1/environments/dev",
    "/api/v1/classes",
    "/api/v1/tokens",
    "/api/v1/whoami",
    "/api/v1/audit",
    "/api/v1/orgs/default/quotas",
    "/api/v1/orgs/default/members",
    "/api/v1/health",
  ]) {
    const res = await L.inject({ method: "GET", url });
    assert.ok(res.statusCode < 300, `${url}: ${res.body}`);
  }
  assert.equal(await auditCount(w), before);
  const headers = { "idempotency-key": "k1" };
  await L.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "x" }, headers });
  const replay = await L.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "x" }, headers });
  assert.equal(replay.headers["idempotent-replayed"], "true");
  assert.equal(await auditCount(w), before + 1);
});

test("a refused action is recorded as denied, with the caller as actor", async () => {
  w = await world();
  const alice = await userWithToken(w, "alice", "member");
  const bob = await userWithToken(w, "bob", "member");
  const E = "/api/v1/environments";
  await once(
    w.remote,
    { method: "POST", url: E, payload: { name: "a1" }, headers: bearer(alice.token) },
    { action: "environment.create", result: "ok", actor: alice.id, status: 201 },
  );
  const del = await once(
    w.remote,
    { method: "DELETE", url: `${E}/a1`, headers: bearer(bob.token) },
    { action: "environment.delete", result: "denied", actor: bob.id, target: "a1", status: 404 },
  );
  assert.equal(del.record.code, "ENV_NOT_FOUND");
  const cls = await once(
    w.remote,
    { method: "DELETE", url: "/api/v1/classes/small", headers: bearer(bob.token) },
    { action: "class.delete", result: "denied", actor: bob.id, status: 403 },
  );
  assert.equal(cls.record.code, "FORBIDDEN");
  // Unauthenticated calls have no organisation to file a record under.
  const before = await auditCount(w);
  assert.equal((await w.remote.inject({ method: "DELETE", url: `${E}/a1` })).statusCode, 401);
  assert.equal(await auditCount(w), before);
});

test("the audit log is admin-only, org-scoped, filtered and paged", async () => {
  w = await world();
  const admin = await userWithToken(w, "ada", "admin");
  const member = await userWithToken(w, "mel", "member");
  const other = await userWithToken(w, "otto", "owner", "org_other");
  const L = w.local;
  await L.inject({
    method: "POST",
    url: "/api/v1/classes",
    payload: { name: "c1", cpus: 1, memory: "1g", disk: "1g" },
  });
  await L.inject({ method: "DELETE", url: "/api/v1/classes/c1" });
  await w.remote.inject({
    method: "POST",
    url: "/api/v1/tokens",
    payload: { name: "t" },
    headers: bearer(member.token),
  });
  await w.remote.inject({
    method: "POST",
    url: "/api/v1/tokens",
    payload: { name: "t" },
    headers: bearer(other.token),
  });

  const list = (token: string, q = "") =>
    w!.remote.inject({ method: "GET", url: `/api/v1/audit${q}`, headers: bearer(token) });
  const denied = await list(member.token);
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().code, "FORBIDDEN");
  const all = (await list(admin.token)).json().items as { orgId: string; action: string; actor: string }[];
  assert.equal(all.length, 3);
  assert.ok(all.every((r) => r.orgId === BOOTSTRAP_ORG_ID));
  assert.deepEqual(
    all.map((r) => r.action),
    ["token.create", "class.delete", "class.create"],
  );
  const theirs = (await list(other.token)).json().items as { actor: string }[];
  assert.deepEqual(
    theirs.map((r) => r.actor),
    [other.id],
  );
  const byActor = (await list(admin.token, `?actor=${member.id}`)).json().items;
  assert.equal(byActor.length, 1);
  const byAction = (await list(admin.token, "?action=class.create")).json().items;
  assert.equal(byAction.length, 1);
  assert.equal((await list(admin.token, "?since=2030-01-01T00:00:00Z")).json().items.length, 0);
  assert.equal((await list(admin.token, "?until=2000-01-01T00:00:00Z")).json().items.length, 0);
  assert.equal((await list(admin.token, "?since=yesterday")).statusCode, 400);
  const p1 = (await list(admin.token, "?limit=2")).json();
  assert.equal(p1.items.length, 2);
  const p2 = (await list(admin.token, `?limit=2&cursor=${p1.nextCursor}`)).json();
  assert.deepEqual(
    p2.items.map((r: { action: string }) => r.action),
    ["class.create"],
  );
});

test("the retention sweep deletes only records older than the retention period", async () => {
  w = await world({ WARREN_AUDIT_RETENTION_DAYS: "30" });
  const base = {
    org_id: BOOTSTRAP_ORG_ID,
    actor: "x",
    action: "a",
    target: "",
    source_address: "s",
    result: "ok" as const,
    code: null,
  };
  const db = w.h.store.db;
  await db
    .insertInto("audit_records")
    .values({ ...base, at: "2025-11-01T00:00:00.000Z" })
    .execute(); // 61 days old
  await db
    .insertInto("audit_records")
    .values({ ...base, at: "2025-12-15T00:00:00.000Z" })
    .execute(); // 17 days old
  // Retention is the system's job: a user, even the owner, cannot sweep the trail.
  await assert.rejects(w.audit.sweep(LOCAL_ROOT), (e) => isWarrenError(e, "FORBIDDEN"));
  assert.equal(await w.audit.sweep(system("audit-retention")), 1);
  const left = await db.selectFrom("audit_records").select("at").execute();
  assert.deepEqual(
    left.map((r) => r.at),
    ["2025-12-15T00:00:00.000Z"],
  );
});
