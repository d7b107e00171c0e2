// Quotas, in-process: unlimited by default; create, start and resize are refused past a quota with
// a message naming the quota and the excess; only admins of the organisation manage them.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { bearer, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const E = "/api/v1/environments";
const Q = "/api/v1/orgs/default/quotas";

async function setQuotas(payload: object) {
  const res = await w!.local.inject({ method: "PUT", url: Q, payload });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

const create = (name: string, extra: object = {}, headers: Record<string, string> = {}) =>
  w!.local.inject({ method: "POST", url: E, payload: { name, ...extra }, headers });

test("unlimited by default", async () => {
  w = await world();
  const view = (await w.local.inject({ method: "GET", url: Q })).json();
  assert.deepEqual(view.quotas, {
    cpus: null,
    memoryBytes: null,
    diskBytes: null,
    userMaxRunning: null,
    tokenMaxDays: null,
    // No idle maximum: each environment's own timeout (30 minutes by default) applies.
    maxIdleTimeoutSeconds: null,
    // Ports may not be made public until an admin allows it.
    publicPorts: "deny",
  });
  for (let i = 0; i < 4; i++) assert.equal((await create(`e${i}`, { cpus: 2 })).statusCode, 201);
  const after = (await w.local.inject({ method: "GET", url: Q })).json();
  assert.equal(after.usage.cpus, 8);
});

test("create is refused over the organisation's cpu, memory and disk quotas, with the exact excess", async () => {
  w = await world();
  assert.equal((await create("a", { cpus: 4 })).statusCode, 201);
  assert.equal((await create("b", { cpus: 2 })).statusCode, 201);
  await setQuotas({ cpus: 8 });
  const res = await create("c", { cpus: 4 });
  assert.equal(res.statusCode, 403, res.body);
  assert.equal(res.json().code, "QUOTA_EXCEEDED");
  assert.equal(
    res.json().message,
    "organisation cpu quota is 8 cpus; 6 are in use and this environment asks for 4 (2 over); stop or resize environments, or ask an admin to raise it",
  );
  assert.equal((await create("c", { cpus: 2 })).statusCode, 201, "exactly at the quota is allowed");
  await setQuotas({ cpus: null, memory: "2g" });
  const mem = await create("d", { memory: "4g" });
  assert.equal(mem.json().code, "QUOTA_EXCEEDED");
  assert.match(
    mem.json().message,
    /^organisation memory quota is 2(\.0)? ?Gi?B?; .* in use and this environment asks for 4/,
  );
  await setQuotas({ memory: null, disk: "1g" });
  const disk = await create("d", { disk: "2g" });
  assert.equal(disk.json().code, "QUOTA_EXCEEDED");
  assert.match(
    disk.json().message,
    /^organisation disk quota is .*over\); remove environments, or ask an admin to raise it$/,
  );
  assert.equal(
    (await w.local.inject({ method: "GET", url: `${E}/d` })).statusCode,
    404,
    "nothing was created",
  );
});

test("start is refused over the per-user running quota; other users are counted apart", async () => {
  w = await world();
  const alice = await userWithToken(w, "alice", "member");
  const bob = await userWithToken(w, "bob", "member");
  const as = (token: string, method: "POST", url: string, payload: object = {}) =>
    w!.remote.inject({ method, url, payload, headers: bearer(token) });
  assert.equal((await as(alice.token, "POST", E, { name: "a1" })).statusCode, 201);
  assert.equal((await as(alice.token, "POST", E, { name: "a2" })).statusCode, 201);
  assert.equal((await as(alice.token, "POST", `${E}/a2/stop`)).statusCode, 200);
  await setQuotas({ userMaxRunning: 1 });
  const res = await as(alice.token, "POST", `${E}/a2/start`);
  assert.equal(res.statusCode, 403, res.body);
  assert.equal(res.json().code, "QUOTA_EXCEEDED");
  assert.equal(
    res.json().message,
    "per-user running environment quota is 1; 1 of yours are running and this would start 1 more (1 over); stop an environment, or ask an admin to raise it",
  );
  const created = await as(alice.token, "POST", E, { name: "a3" });
  assert.equal(created.json().code, "QUOTA_EXCEEDED", "create starts an environment too");
  assert.equal((await as(bob.token, "POST", E, { name: "b1" })).statusCode, 201, "bob has his own allowance");
  assert.equal((await as(alice.token, "POST", `${E}/a1/stop`)).statusCode, 200);
  assert.equal((await as(alice.token, "POST", `${E}/a2/start`)).statusCode, 200);
});

test("resize is refused over the organisation's cpu and memory quotas; shrinking is allowed", async () => {
  w = await world();
  assert.equal((await create("a", { cpus: 2 })).statusCode, 201);
  assert.equal((await create("b", { cpus: 2 })).statusCode, 201);
  await setQuotas({ cpus: 5 });
  const res = await w.local.inject({ method: "PATCH", url: `${E}/a`, payload: { cpus: 4 } });
  assert.equal(res.statusCode, 403, res.body);
  assert.equal(
    res.json().message,
    "organisation cpu quota is 5 cpus; 2 are in use and this environment asks for 4 (1 over); stop or resize environments, or ask an admin to raise it",
  );
  assert.equal(
    (await w.local.inject({ method: "PATCH", url: `${E}/a`, payload: { cpus: 3 } })).statusCode,
    200,
  );
  await setQuotas({ cpus: 1 });
  assert.equal(
    (await w.local.inject({ method: "PATCH", url: `${E}/a`, payload: { cpus: 1 } })).statusCode,
    200,
  );
});

test("quotas are managed by admins of the organisation only", async () => {
  w = await world();
  const member = await userWithToken(w, "mel", "member");
  const admin = await userWithToken(w, "ada", "admin");
  const stranger = await userWithToken(w, "otto", "owner", "org_other");
  const put = (token: string, url = Q) =>
    w!.remote.inject({ method: "PUT", url, payload: { cpus: 4 }, headers: bearer(token) });
  assert.equal((await put(member.token)).statusCode, 403);
  assert.equal((await put(stranger.token)).statusCode, 404, "another organisation's quotas do not exist");
  assert.equal((await put(admin.token)).statusCode, 200);
  assert.equal((await w.local.inject({ method: "PUT", url: Q, payload: { cpus: -1 } })).statusCode, 400);
  assert.equal(
    (await w.local.inject({ method: "PUT", url: Q, payload: { memory: "lots" } })).statusCode,
    400,
  );
  const view = (await w.local.inject({ method: "GET", url: Q })).json();
  assert.equal(view.quotas.cpus, 4);
});

test("admins set the longest token lifetime of their organisation, within the server's", async () => {
  w = await world();
  const T = "/api/v1/tokens";
  const days = (r: { json(): { expiresAt: string } }) =>
    Math.round((Date.parse(r.json().expiresAt) - w!.clock.now()) / 86_400_000);
  // The server's default and maximum: 30 days.
  assert.equal(days(await w.local.inject({ method: "POST", url: T, payload: { name: "a" } })), 30);
  const tooLong = await w.local.inject({ method: "PUT", url: Q, payload: { tokenMaxDays: 31 } });
  assert.equal(tooLong.statusCode, 400, tooLong.body);
  assert.match(tooLong.json().message, /from 1 to 30/);

  assert.equal((await setQuotas({ tokenMaxDays: 7 })).quotas.tokenMaxDays, 7);
  assert.equal(days(await w.local.inject({ method: "POST", url: T, payload: { name: "b" } })), 7);
  const over = await w.local.inject({ method: "POST", url: T, payload: { name: "c", expiresInDays: 8 } });
  assert.equal(over.statusCode, 400, over.body);
  assert.match(over.json().message, /from 1 to 7/);
  const runner = await w.local.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "r", expiresInDays: 30 },
  });
  assert.equal(runner.statusCode, 400, "runner tokens too");

  assert.equal((await setQuotas({ tokenMaxDays: null })).quotas.tokenMaxDays, null);
  assert.equal(days(await w.local.inject({ method: "POST", url: T, payload: { name: "d" } })), 30);
});
