// Token lineage, over the remote API as a client sees it: a token cannot make a token that outlives
// it; revoking a token revokes what it made, however deep; removing a member revokes their tokens
// for good; and only owners revoke an owner's tokens.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { LOCAL_ROOT } from "../src/services/identity.ts";
import { bearer, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const DAY = 86_400_000;

async function mint(token: string, body: object, url = "/api/v1/tokens") {
  const res = await w!.remote.inject({ method: "POST", url, headers: bearer(token), payload: body });
  return {
    status: res.statusCode,
    body: res.json() as { id: string; token: string; expiresAt: string; message?: string },
  };
}
async function whoami(token: string): Promise<number> {
  return (await w!.remote.inject({ method: "GET", url: "/api/v1/whoami", headers: bearer(token) }))
    .statusCode;
}
async function revoke(token: string, id: string): Promise<number> {
  const res = await w!.remote.inject({
    method: "DELETE",
    url: `/api/v1/tokens/${id}`,
    headers: bearer(token),
  });
  return res.statusCode;
}

test("a token cannot create a token that outlives it", async () => {
  w = await world();
  const alice = await userWithToken(w, "alice", "admin");
  // A 5-day token, made with alice's 30-day one.
  const short = await mint(alice.token, { name: "short", expiresInDays: 5 });
  assert.equal(short.status, 201);
  const shortEnd = Date.parse(short.body.expiresAt);
  // With it: more days than it has left is refused, naming its expiry.
  const tooLong = await mint(short.body.token, { name: "longer", expiresInDays: 6 });
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.body.message ?? "", /cannot create a token that outlives it/);
  assert.ok(tooLong.body.message?.includes(short.body.expiresAt));
  // The default (30 days) is cut to end with it; fewer days are fine.
  const dflt = await mint(short.body.token, { name: "default" });
  assert.equal(dflt.status, 201);
  assert.equal(dflt.body.expiresAt, short.body.expiresAt);
  const fewer = await mint(short.body.token, { name: "fewer", expiresInDays: 2 });
  assert.equal(fewer.status, 201);
  assert.ok(Date.parse(fewer.body.expiresAt) <= shortEnd - 2 * DAY);
  // Runner tokens too.
  const runner = await mint(
    short.body.token,
    { name: "r", expiresInDays: 30 },
    "/api/v1/admin/runner-tokens",
  );
  assert.equal(runner.status, 400);
  // Root on the local socket has no token: its limit is the organisation's.
  const rootToken = await w.local.inject({
    method: "POST",
    url: "/api/v1/tokens",
    payload: { name: "root", expiresInDays: 30 },
  });
  assert.equal(rootToken.statusCode, 201, rootToken.body);
});

test("revoking a token revokes the tokens it created, however deep, and nothing else", async () => {
  w = await world();
  const alice = await userWithToken(w, "alice", "admin");
  const child = (await mint(alice.token, { name: "child" })).body;
  const grandchild = (await mint(child.token, { name: "grandchild" })).body;
  const runner = (await mint(grandchild.token, { name: "runner" }, "/api/v1/admin/runner-tokens")).body;
  const sibling = (await mint(alice.token, { name: "sibling" })).body;
  for (const t of [child, grandchild, sibling]) assert.equal(await whoami(t.token), 200);

  assert.equal(await revoke(alice.token, child.id), 204);
  assert.equal(await whoami(child.token), 401);
  assert.equal(await whoami(grandchild.token), 401, "the grandchild goes with it");
  const ping = await w.remote.inject({
    method: "GET",
    url: "/api/runner/v1/ping",
    headers: bearer(runner.token),
  });
  assert.equal(ping.statusCode, 401, "a runner token made below it goes too");
  assert.equal(await whoami(sibling.token), 200, "a sibling stays");
  assert.equal(await whoami(alice.token), 200, "the parent stays");
  const listed = await w.remote.inject({
    method: "GET",
    url: "/api/v1/tokens",
    headers: bearer(alice.token),
  });
  const revokedIds = (listed.json() as { items: { id: string; revokedAt?: string }[] }).items
    .filter((t) => t.revokedAt)
    .map((t) => t.id)
    .sort();
  assert.deepEqual(revokedIds, [child.id, grandchild.id, runner.id].sort());
});

test("removing a member revokes their tokens, and adding them back does not revive them", async () => {
  w = await world();
  const bob = await userWithToken(w, "bob", "member");
  const made = (await mint(bob.token, { name: "bob-2" })).body;
  const removed = await w.local.inject({ method: "DELETE", url: `/api/v1/orgs/default/members/bob` });
  assert.equal(removed.statusCode, 204, removed.body);
  assert.equal(await whoami(bob.token), 401);
  const back = await w.local.inject({
    method: "POST",
    url: "/api/v1/orgs/default/members",
    payload: { name: "bob", role: "member" },
  });
  assert.equal(back.statusCode, 201, back.body);
  assert.equal(await whoami(bob.token), 401, "the old token stays revoked");
  assert.equal(await whoami(made.token), 401, "and the one it made");
  const rows = await w.h.store.db
    .selectFrom("api_tokens")
    .select(["id", "revoked_at"])
    .where("user_id", "=", bob.id)
    .execute();
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.revoked_at !== null));
  // A new token for the re-added member works.
  const fresh = await w.identity.createToken(
    { ...LOCAL_ROOT, userId: bob.id, role: "member", via: "token" },
    {
      name: "fresh",
    },
  );
  assert.equal(await whoami(fresh.token), 200);
});

test("admins cannot revoke an owner's tokens; owners can; admins still revoke members'", async () => {
  w = await world();
  const owner = await userWithToken(w, "olga", "owner");
  const owner2 = await userWithToken(w, "otto", "owner");
  const admin = await userWithToken(w, "adam", "admin");
  const member = await userWithToken(w, "mia", "member");
  const res = await w.remote.inject({
    method: "DELETE",
    url: `/api/v1/tokens/${owner.tokenId}`,
    headers: bearer(admin.token),
  });
  assert.equal(res.statusCode, 403, res.body);
  assert.match(res.body, /belongs to an owner/);
  assert.equal(await whoami(owner.token), 200);
  assert.equal(await revoke(admin.token, member.tokenId), 204);
  assert.equal(await whoami(member.token), 401);
  assert.equal(await revoke(owner2.token, owner.tokenId), 204, "another owner may");
  assert.equal(await whoami(owner.token), 401);
  assert.equal(await revoke(owner2.token, owner2.tokenId), 204, "and an owner their own");
});
