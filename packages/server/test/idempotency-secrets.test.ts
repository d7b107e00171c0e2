// Idempotency-Key records never hold a secret, and callers who cannot be told apart never share
// a key namespace:
// - a route that declares secrets in its reply (a new token) keeps, for replays, a 409
//   SECRET_SHOWN_ONCE with the reply minus the secret; every other route replays its reply;
// - root on the local socket and anonymous remote callers keep keys apart.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { secretShownOnce } from "../src/http/idempotency.ts";
import { bearer, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const keyRows = () => w!.h.store.db.selectFrom("idempotency_keys").selectAll().execute();

test("a token's secret is not kept for replays: the replay says it was shown once", async () => {
  w = await world();
  const admin = await userWithToken(w, "ada", "admin");
  const app = w.remote;
  for (const url of ["/api/v1/tokens", "/api/v1/admin/runner-tokens"]) {
    const req = {
      method: "POST" as const,
      url,
      headers: { ...bearer(admin.token), "idempotency-key": `k-${url}` },
      payload: { name: "ci" },
    };
    const first = await app.inject(req);
    assert.equal(first.statusCode, 201, first.body);
    const created = first.json() as { id: string; token: string; expiresAt: string };
    assert.match(created.token, /^wrn_/);

    const stored = (await keyRows()).find((r) => r.key === `k-${url}`);
    assert.ok(stored, "the key is recorded");
    assert.equal(stored.state, "done");
    assert.ok(!stored.response?.includes(created.token), "the plaintext token is not in the database");

    const replay = await app.inject(req);
    assert.equal(replay.statusCode, 409, replay.body);
    assert.equal(replay.headers["idempotent-replayed"], "true");
    const body = replay.json() as { code: string; message: string; details: Record<string, unknown> };
    assert.equal(body.code, "SECRET_SHOWN_ONCE");
    assert.match(body.message, /already succeeded.*shown once/);
    assert.deepEqual(body.details["response"], { id: created.id, expiresAt: created.expiresAt });
    assert.equal(body.details["status"], 201);
    assert.ok(!replay.body.includes(created.token));
    // One token was made, not two.
    const tokens = await w.h.store.db
      .selectFrom("api_tokens")
      .select("id")
      .where("name", "=", "ci")
      .execute();
    assert.equal(tokens.length, url.includes("runner") ? 2 : 1);
  }
  // Nothing secret anywhere in the table.
  for (const r of await keyRows()) assert.ok(!r.response?.includes("wrn_"), r.response ?? "");
});

test("routes that declare no secret replay their answer as before", async () => {
  w = await world();
  const req = {
    method: "POST" as const,
    url: "/api/v1/classes",
    headers: { "idempotency-key": "class-1" },
    payload: { name: "tiny", cpus: 1, memory: "256m", disk: "1g" },
  };
  const first = await w.local.inject(req);
  assert.equal(first.statusCode, 201, first.body);
  const replay = await w.local.inject(req);
  assert.equal(replay.statusCode, 201);
  assert.equal(replay.headers["idempotent-replayed"], "true");
  assert.equal(replay.body, first.body);
});

test("a reply of a secret-carrying route that holds no secret (a poll's pending) is kept as it is", () => {
  const pending = JSON.stringify({ status: "authorization_pending" });
  assert.deepEqual(secretShownOnce("k", 200, pending, ["token"]), { status: 200, body: pending });
  const done = secretShownOnce("k", 200, JSON.stringify({ status: "complete", token: "wrn_x" }), ["token"]);
  assert.equal(done.status, 409);
  assert.ok(!done.body.includes("wrn_x"));
  assert.equal(secretShownOnce("k", 200, "not json", ["token"]).status, 409);
});

test("root on the local socket and anonymous remote callers do not share a key namespace", async () => {
  w = await world();
  const key = "shared-key-1";
  const root = await w.local.inject({
    method: "POST",
    url: "/api/v1/classes",
    headers: { "idempotency-key": key },
    payload: { name: "rootclass", cpus: 1, memory: "256m", disk: "1g" },
  });
  assert.equal(root.statusCode, 201, root.body);
  // The same key from an anonymous remote caller, on a public route: under one namespace this
  // would be 422 IDEMPOTENCY_MISMATCH (or, with the same request, root's own answer replayed).
  const anon = await w.remote.inject({
    method: "POST",
    url: "/api/v1/auth/device",
    headers: { "idempotency-key": key, accept: "application/json" },
    payload: {},
  });
  assert.notEqual(anon.statusCode, 422, anon.body);
  assert.ok(!String(anon.body).includes("IDEMPOTENCY"), anon.body);
  const principals = (await keyRows()).filter((r) => r.key === key).map((r) => r.principal);
  assert.ok(principals.includes("local"), principals.join(","));
  // The anonymous claim lives under its own principal (kept or released, never root's).
  assert.ok(
    principals.every((p) => p === "local" || p.startsWith("anonymous:")),
    principals.join(","),
  );
});
