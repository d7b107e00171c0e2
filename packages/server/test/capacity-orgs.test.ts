// Capacity belongs to the runner that has it: each organisation's runner has its own id range
// (slots) and disk, so one organisation's environments never make another's create fail, slots are
// reused per runner, and a runner cannot spend another runner's capacity by naming its id.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeRunner } from "@warren/testing/fake-runner";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { DEFAULT_QUOTAS } from "../src/store/queries/quotas.ts";
import { capacityWorld, GiB, ORG_B, untilGone } from "./capacity-orgs-world.ts";

function runner(slots: number, diskFreeBytes = 1024 * GiB): FakeRunner {
  const r = new FakeRunner({ diskFreeBytes });
  r.slots = slots;
  return r;
}

test("environments in one organisation do not make another organisation's create fail", async () => {
  // Both fakes report the same id ("fake"): the server counts by the id it gave each (its token's).
  // B's host has room for one default environment's 10 GiB disk (3 GiB free promised 4:1 is
  // 12 GiB), and A reserves 20 GiB.
  const w = await capacityWorld({ runnerA: runner(2), runnerB: runner(2, 3 * GiB) });
  try {
    assert.equal((await w.create(w.a, "a1")).status, 201);
    assert.equal((await w.create(w.a, "a2")).status, 201);
    const full = await w.create(w.a, "a3");
    assert.equal(full.status, 507);
    assert.equal(full.body["code"], "CAPACITY_EXHAUSTED", "A's runner is full");

    const b1 = await w.create(w.b, "b1");
    assert.equal(b1.status, 201, `B's own empty runner admits it: ${JSON.stringify(b1.body)}`);
    assert.equal(b1.body["slot"], 0, "slots are counted on B's runner, not the server");
    assert.equal(w.b.runner.envs.size, 1, "B's runner runs it");
    const disk = await w.create(w.b, "b2");
    assert.equal(disk.status, 507);
    assert.equal(disk.body["code"], "INSUFFICIENT_DISK", "B's own disk is full");
    assert.match(String(disk.body["message"]), /environments already reserve 10Gi and the host has 3Gi free/);

    assert.deepEqual(await w.recorded(BOOTSTRAP_ORG_ID), {
      a1: { runner: w.a.runnerId, slot: 0 },
      a2: { runner: w.a.runnerId, slot: 1 },
    });
    assert.deepEqual(await w.recorded(ORG_B), { b1: { runner: w.b.runnerId, slot: 0 } });
  } finally {
    await w.close();
  }
});

test("a freed slot is reused on its own runner, and a full runner refuses only its own organisation", async () => {
  const w = await capacityWorld({ runnerA: runner(2), runnerB: runner(2) });
  try {
    for (const [t, name] of [
      [w.a, "a1"],
      [w.b, "b1"],
      [w.a, "a2"],
      [w.b, "b2"],
    ] as const) {
      assert.equal((await w.create(t, name)).status, 201, name);
    }
    // Quotas start at their default, no limit: the runner's capacity is what refuses.
    const quotas = await w.servers[0]!.app.inject({
      method: "GET",
      url: `/api/v1/orgs/${ORG_B}/quotas`,
      headers: w.b.headers,
    });
    assert.equal(quotas.statusCode, 200, quotas.body);
    assert.deepEqual(quotas.json().quotas, {
      cpus: DEFAULT_QUOTAS.cpus,
      memoryBytes: DEFAULT_QUOTAS.memory_bytes,
      diskBytes: DEFAULT_QUOTAS.disk_bytes,
      userMaxRunning: DEFAULT_QUOTAS.user_max_running,
      tokenMaxDays: DEFAULT_QUOTAS.token_max_days,
      maxIdleTimeoutSeconds: DEFAULT_QUOTAS.max_idle_timeout_s,
      publicPorts: "deny",
    });
    assert.equal((await w.create(w.b, "b3")).body["code"], "CAPACITY_EXHAUSTED");
    const gone = await w.servers[0]!.app.inject({
      method: "DELETE",
      url: "/api/v1/environments/a1?force=true",
    });
    assert.equal(gone.statusCode, 204, gone.body);
    assert.equal((await w.create(w.b, "b3")).body["code"], "CAPACITY_EXHAUSTED", "A's free slot is not B's");
    const a3 = await w.create(w.a, "a3");
    assert.equal(a3.status, 201);
    assert.equal(a3.body["slot"], 0, "A reuses its freed slot");
    assert.deepEqual(await w.recorded(ORG_B), {
      b1: { runner: w.b.runnerId, slot: 0 },
      b2: { runner: w.b.runnerId, slot: 1 },
    });
  } finally {
    await w.close();
  }
});

test("a runner that reconnects under a new token takes over its organisation's slots", async () => {
  const w = await capacityWorld({ runnerA: runner(4), runnerB: runner(4) });
  try {
    assert.equal((await w.create(w.b, "b1")).status, 201);
    assert.equal((await w.create(w.b, "b2")).status, 201);
    // The same host comes back with a rotated token: a new runner id, the same environments.
    w.b.conn.close();
    await untilGone(w.servers[0]!, w.b.runnerId);
    const again = await w.connect(ORG_B, w.b.runner);
    const b3 = await w.create({ ...w.b, runnerId: again.runnerId }, "b3");
    assert.equal(b3.status, 201, JSON.stringify(b3.body));
    assert.equal(b3.body["slot"], 2, "slots 0 and 1 are still in use on that host");
    assert.deepEqual(await w.recorded(ORG_B), {
      b1: { runner: again.runnerId, slot: 0 },
      b2: { runner: again.runnerId, slot: 1 },
      b3: { runner: again.runnerId, slot: 2 },
    });
    assert.deepEqual(await w.recorded(BOOTSTRAP_ORG_ID), {}, "A's runner holds nothing of B's");
  } finally {
    await w.close();
  }
});
