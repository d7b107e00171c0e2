// Identity and access over HTTP, in-process. "Local" requests are inject()ed into an app built for
// the unix socket (root acts as the bootstrap owner); "remote" ones into an app over the same
// services built with transport "tls", which is how the auth hook tells a remote caller.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { afterEach, test } from "node:test";
import { openStore } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { assertError, bearer, closeWorld, setup, userWithToken } from "./identity-world.ts";

afterEach(closeWorld);

test("bootstrap creates one owner and one organisation, once", async () => {
  const w = await setup();
  const again = openStore(w.h.dir); // a second start on the same store
  await again.close();
  const orgs = await w.h.store.db.selectFrom("orgs").selectAll().execute();
  assert.deepEqual(
    orgs.map((o) => o.name),
    ["default"],
  );
  const members = await w.h.store.db.selectFrom("memberships").selectAll().execute();
  assert.equal(members.length, 1);
  assert.equal(members[0]?.role, "owner");
  const me = await w.local.inject({ method: "GET", url: "/api/v1/whoami" });
  assert.equal(me.statusCode, 200);
  assert.deepEqual(me.json(), {
    user: { id: "usr_root", name: "root" },
    org: { id: BOOTSTRAP_ORG_ID, name: "default" },
    role: "owner",
    via: "local-socket",
  });
});

test("remote callers need a token; health stays public", async () => {
  const w = await setup();
  assertError(await w.remote.inject({ method: "GET", url: "/api/v1/environments" }), 401, "UNAUTHENTICATED");
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer("wrn_nope") }),
    401,
    "UNAUTHENTICATED",
  );
  assert.equal((await w.local.inject({ method: "GET", url: "/api/v1/health" })).statusCode, 200);
});

test("token create, list, use and revoke; a revoked token fails on its next call", async () => {
  const w = await setup();
  const res = await w.local.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "laptop" } });
  assert.equal(res.statusCode, 201);
  const created = res.json() as { id: string; token: string; expiresAt: string };
  assert.match(created.token, /^wrn_[0-9A-Za-z]{43}$/);
  assert.equal(created.expiresAt, "2026-01-31T00:00:00.000Z", "30 days by default");

  const me = await w.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer(created.token) });
  assert.equal(me.statusCode, 200);
  assert.equal(me.json().via, "token");
  assert.equal(me.json().tokenId, created.id);

  const list = await w.remote.inject({
    method: "GET",
    url: "/api/v1/tokens",
    headers: bearer(created.token),
  });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list.json().items.map((t: { id: string; name: string }) => [t.id, t.name]),
    [[created.id, "laptop"]],
  );
  assert.ok(!list.body.includes(created.token), "lists never include the secret");

  const del = await w.local.inject({ method: "DELETE", url: `/api/v1/tokens/${created.id}` });
  assert.equal(del.statusCode, 204);
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer(created.token) }),
    401,
    "UNAUTHENTICATED",
    /revoked/,
  );
  assertError(await w.local.inject({ method: "DELETE", url: "/api/v1/tokens/tok_nope" }), 404, "NOT_FOUND");
});

test("an expired token is refused; the lifetime is capped by WARREN_TOKEN_MAX_DAYS", async () => {
  const w = await setup({ WARREN_TOKEN_MAX_DAYS: "7" });
  const tooLong = await w.local.inject({
    method: "POST",
    url: "/api/v1/tokens",
    payload: { name: "x", expiresInDays: 8 },
  });
  assertError(tooLong, 400, "INVALID_ARGUMENT", /1 to 7/);
  const res = await w.local.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "x" } });
  const { token, expiresAt } = res.json() as { token: string; expiresAt: string };
  assert.equal(expiresAt, "2026-01-08T00:00:00.000Z", "the default is capped by the maximum");
  const call = () => w.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer(token) });
  await w.clock.advance(7 * 86_400_000 - 1);
  assert.equal((await call()).statusCode, 200);
  await w.clock.advance(1);
  assertError(await call(), 401, "UNAUTHENTICATED", /expired/);
});

test("tokens are hashed at rest: no plaintext in the database files", async () => {
  const w = await setup();
  const { token } = (
    await w.local.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "x" } })
  ).json();
  const runner = (
    await w.local.inject({ method: "POST", url: "/api/v1/admin/runner-tokens", payload: { name: "r" } })
  ).json();
  for (const suffix of ["", "-wal"]) {
    const file = `${w.h.store.file}${suffix}`;
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file).toString("latin1");
    assert.ok(!bytes.includes(token), `user token in ${file}`);
    assert.ok(!bytes.includes(runner.token), `runner token in ${file}`);
  }
  const rows = await w.h.store.db.selectFrom("api_tokens").select("hash").execute();
  assert.equal(rows.length, 2);
  for (const r of rows) assert.match(r.hash, /^[0-9a-f]{64}$/);
});

test("runner tokens call only runner endpoints; user tokens never do", async () => {
  const w = await setup();
  const alice = await userWithToken(w, "alice", "member");
  assertError(
    await w.remote.inject({
      method: "POST",
      url: "/api/v1/admin/runner-tokens",
      headers: bearer(alice),
      payload: { name: "r" },
    }),
    403,
    "FORBIDDEN",
  );
  const res = await w.local.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "r" },
  });
  assert.equal(res.statusCode, 201);
  const runner = res.json().token as string;
  assert.match(runner, /^wrn_r_[0-9A-Za-z]{43}$/);

  const ping = await w.remote.inject({ method: "GET", url: "/api/runner/v1/ping", headers: bearer(runner) });
  assert.equal(ping.statusCode, 200);
  assert.equal(ping.json().ok, true);
  for (const url of ["/api/v1/environments", "/api/v1/whoami", "/api/v1/tokens"]) {
    assertError(await w.remote.inject({ method: "GET", url, headers: bearer(runner) }), 403, "FORBIDDEN");
  }
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/runner/v1/ping", headers: bearer(alice) }),
    403,
    "FORBIDDEN",
  );
  // Root on the local socket is a user too.
  assertError(await w.local.inject({ method: "GET", url: "/api/runner/v1/ping" }), 403, "FORBIDDEN");
});

test("owners manage membership; members may not, nor manage classes", async () => {
  const w = await setup();
  const add = await w.local.inject({
    method: "POST",
    url: "/api/v1/orgs/default/members",
    payload: { name: "dave", role: "member" },
  });
  assert.equal(add.statusCode, 201);
  assert.equal(add.json().role, "member");
  const dave = (
    await w.identity.createToken(
      { kind: "user", userId: add.json().userId, orgId: BOOTSTRAP_ORG_ID, role: "member", via: "token" },
      { name: "d" },
    )
  ).token;
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/v1/orgs/default/members", headers: bearer(dave) }),
    403,
    "FORBIDDEN",
  );
  assertError(
    await w.remote.inject({
      method: "POST",
      url: "/api/v1/classes",
      headers: bearer(dave),
      payload: { name: "big", cpus: 2, memory: "1g", disk: "1g" },
    }),
    403,
    "FORBIDDEN",
  );
  const names = (await w.local.inject({ method: "GET", url: "/api/v1/orgs/default/members" })).json().items;
  assert.deepEqual(
    names.map((m: { name: string }) => m.name),
    ["dave", "root"],
  );
  assertError(
    await w.local.inject({ method: "DELETE", url: "/api/v1/orgs/default/members/root" }),
    400,
    "INVALID_ARGUMENT",
    /at least one owner/,
  );
  assert.equal(
    (await w.local.inject({ method: "DELETE", url: "/api/v1/orgs/default/members/dave" })).statusCode,
    204,
  );
  // Removed from the organisation: the token stops working on its next call.
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer(dave) }),
    401,
    "UNAUTHENTICATED",
  );
});

test("fields the server sets get a 400 naming the field", async () => {
  const w = await setup();
  for (const field of ["orgId", "runnerId", "owner", "privileged"]) {
    const res = await w.local.inject({
      method: "POST",
      url: "/api/v1/environments",
      payload: { name: "x", [field]: field === "privileged" ? true : "v" },
    });
    assertError(res, 400, "INVALID_ARGUMENT", new RegExp(`"${field}"`));
    assert.equal(res.json().details.field, field);
  }
  const cls = await w.local.inject({
    method: "POST",
    url: "/api/v1/classes",
    payload: { name: "c", cpus: 1, memory: "1g", disk: "1g", orgId: "org_two" },
  });
  assertError(cls, 400, "INVALID_ARGUMENT", /"orgId"/);
});
