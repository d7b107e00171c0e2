// Identity scoping over HTTP, in-process: members see and change only their own environments, and
// another organisation's environments and membership answer as if they did not exist.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { assertError, bearer, closeWorld, setup, userWithToken } from "./identity-world.ts";

afterEach(closeWorld);

test("members see and change only their own environments; other ids are 404", async () => {
  const w = await setup();
  const alice = await userWithToken(w, "alice", "member");
  const bob = await userWithToken(w, "bob", "member");
  const made = await w.remote.inject({
    method: "POST",
    url: "/api/v1/environments",
    headers: bearer(alice),
    payload: { name: "a1" },
  });
  assert.equal(made.statusCode, 201);
  const id = made.json().id as string;
  const owner = await w.h.store.db
    .selectFrom("environments")
    .select(["org_id", "owner_id"])
    .executeTakeFirst();
  assert.deepEqual({ ...owner }, { org_id: BOOTSTRAP_ORG_ID, owner_id: "usr_alice" });

  for (const ref of ["a1", id]) {
    for (const [method, url] of [
      ["GET", `/api/v1/environments/${ref}`],
      ["POST", `/api/v1/environments/${ref}/stop`],
      ["DELETE", `/api/v1/environments/${ref}`],
    ] as const) {
      const res = await w.remote.inject({
        method,
        url,
        headers: bearer(bob),
        ...(method === "POST" ? { payload: {} } : {}),
      });
      assertError(res, 404, "ENV_NOT_FOUND");
    }
  }
  // exec (a WebSocket) is scoped the same way: the caller is set before the upgrade completes.
  let onFirst: (text: string) => void = () => {};
  const first = new Promise<string>((resolve) => {
    onFirst = resolve;
  });
  // The server may answer before injectWS resolves, so listen from the start (onInit).
  const ws = await w.remote.injectWS(
    `/api/v1/environments/a1/exec?cmd=${encodeURIComponent('["true"]')}`,
    { headers: bearer(bob) },
    { onInit: (sock) => sock.once("message", (d) => onFirst(String(d))) },
  );
  assert.match(await first, /ENV_NOT_FOUND/);
  // A clean close handshake: inject's in-memory socket does not tell the server about a
  // terminate(), which would leave it waiting out ws's 30 s close timeout.
  await new Promise<void>((resolve) => {
    ws.once("close", () => resolve());
    ws.close();
  });
  const bobList = await w.remote.inject({ method: "GET", url: "/api/v1/environments", headers: bearer(bob) });
  assert.deepEqual(bobList.json().items, []);
  const aliceList = await w.remote.inject({
    method: "GET",
    url: "/api/v1/environments",
    headers: bearer(alice),
  });
  assert.deepEqual(
    aliceList.json().items.map((e: { name: string }) => e.name),
    ["a1"],
  );
  // The owner (admin rights) manages every environment of the organisation.
  const rootList = await w.local.inject({ method: "GET", url: "/api/v1/environments" });
  assert.deepEqual(
    rootList.json().items.map((e: { name: string }) => e.name),
    ["a1"],
  );
  // Host details are for admins only.
  const asAlice = (
    await w.remote.inject({ method: "GET", url: "/api/v1/environments/a1", headers: bearer(alice) })
  ).json();
  assert.equal(asAlice.observed.state, "running");
  assert.equal(asAlice.observed.pid, undefined);
  assert.equal(asAlice.observed.cgroupPaths, undefined);
  const asRoot = (await w.local.inject({ method: "GET", url: "/api/v1/environments/a1" })).json();
  assert.equal(typeof asRoot.observed.pid, "number");
  assert.ok(asRoot.observed.cgroupPaths);
});

test("another organisation's environments and membership are 404", async () => {
  const w = await setup();
  const db = w.h.store.db;
  await db
    .insertInto("orgs")
    .values({ id: "org_two", name: "two", created_at: "2026-01-01T00:00:00.000Z" })
    .execute();
  const carol = await userWithToken(w, "carol", "owner", "org_two");
  const made = await w.local.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "r1" } });
  const id = made.json().id as string;
  for (const ref of ["r1", id]) {
    assertError(
      await w.remote.inject({ method: "GET", url: `/api/v1/environments/${ref}`, headers: bearer(carol) }),
      404,
      "ENV_NOT_FOUND",
    );
  }
  const list = await w.remote.inject({ method: "GET", url: "/api/v1/environments", headers: bearer(carol) });
  assert.deepEqual(list.json().items, []);
  assertError(
    await w.remote.inject({ method: "GET", url: "/api/v1/orgs/default/members", headers: bearer(carol) }),
    404,
    "NOT_FOUND",
  );
  const own = await w.remote.inject({
    method: "GET",
    url: "/api/v1/orgs/two/members",
    headers: bearer(carol),
  });
  assert.deepEqual(own.json().items, [{ userId: "usr_carol", name: "carol", role: "owner" }]);
});
