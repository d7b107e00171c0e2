// A create in an organisation with no runner connected is refused with RUNNER_UNAVAILABLE (and how
// to start one), and is still recorded as demand (fleet_demand): an autoscaler whose pool is empty
// (min 0) learns of it there and starts the first host. A request that would be refused anyway is
// no demand.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { startTlsServer } from "@warren/testing/tls-server";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("no runner connected: RUNNER_UNAVAILABLE for the user, a fleet_demand row for the autoscaler", async () => {
  const d = await startTlsServer(cleanups);
  const demand = () => d.store.db.selectFrom("fleet_demand").selectAll().execute();
  const create = (payload: Record<string, unknown>) =>
    d.app.inject({ method: "POST", url: "/api/v1/environments", payload });

  const r = await create({ name: "wants-a-host", cpus: 2, memory: "3g", disk: "5g" });
  assert.equal(r.statusCode, 503, r.body);
  assert.equal(r.json().code, "RUNNER_UNAVAILABLE");
  assert.match(r.json().message, /no runner of organisation \S+ is connected; start one with `warren runner/);
  const rows = await demand();
  assert.equal(rows.length, 1, "recorded as demand");
  assert.deepEqual(
    [Number(rows[0]!.cpus), Number(rows[0]!.memory_bytes), Number(rows[0]!.disk_bytes)],
    [2, 3 * 1024 ** 3, 5 * 1024 ** 3],
    "what it would need",
  );
  assert.equal(
    rows[0]!.org_id,
    (await d.store.db.selectFrom("orgs").select("id").executeTakeFirstOrThrow()).id,
  );

  // Refused for itself (too little memory): the answer says so, and it is no demand.
  const bad = await create({ name: "too-small", memory: "1k" });
  assert.equal(bad.statusCode, 400, bad.body);
  assert.equal((await demand()).length, 1);
  const envs = await d.store.db.selectFrom("environments").select("id").execute();
  assert.equal(envs.length, 0, "nothing was admitted");
});
