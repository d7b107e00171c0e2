// The warm pool on the real SQLite store, services, environment controller and pool controller
// (fake runner): members fill, stay out of sight and out of quotas, a plain create takes one over
// (name, owner, secrets), claims never hand one member out twice, a class change and a removed
// pool empty it, and failed members make it back off.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { DEFAULT_IMAGE, type RunnerEnvSpec, WarrenError } from "@warren/protocol";
import { harness, ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { createPoolController } from "../src/controllers/pool/controller.ts";
import { silentLogger } from "../src/logger.ts";
import { embeddedFleetView } from "../src/scheduler/embedded-view.ts";
import { createEnvironmentService } from "../src/services/environments.ts";
import { createPoolClaimer } from "../src/services/pool-claim.ts";
import { POOL_OWNER_ID } from "../src/services/pool-owner.ts";
import { createPoolService } from "../src/services/pools.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { withSecrets } from "../src/services/secret-delivery.ts";
import { createSecretService } from "../src/services/secrets.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { listEvents } from "../src/store/queries/events.ts";
import { findPool, listPoolMembers } from "../src/store/queries/pool.ts";
import { orgUsage, upsertQuotaRow } from "../src/store/queries/quotas.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const KEY = { orgId: BOOTSTRAP_ORG_ID, image: DEFAULT_IMAGE, className: "default" };

async function world() {
  const h = await harness();
  const db = h.store.db;
  const secrets = createSecretService({ db, clock: systemClock, root: h.dir, registryBox: secretBox(h.dir) });
  const runner = withSecrets(h.runner, { db, secrets });
  const claimer = createPoolClaimer({
    db,
    clock: systemClock,
    logger: silentLogger,
    runner,
    changed: (id) => h.changes.emit(id),
  });
  const envs = createEnvironmentService({
    db,
    runner,
    clock: systemClock,
    logger: silentLogger,
    changes: h.changes,
    enqueue: (id) => h.controller.enqueue(id, { now: true }),
    defaultRuntime: "runc",
    settleTimeoutMs: 5000,
    pollMs: 20,
    pool: claimer,
  });
  const ctl = createPoolController({
    db,
    clock: systemClock,
    logger: silentLogger,
    envs,
    enqueueEnv: (id) => h.controller.enqueue(id, { now: true }),
    changed: (id) => h.changes.emit(id),
    claimer,
    fleetFor: () => embeddedFleetView({ db, infoFor: () => h.runner.info() }),
    resyncMs: 0,
  });
  const pools = createPoolService({ db, clock: systemClock, changed: () => claimer.invalidate() });
  cleanup.push(async () => {
    await ctl.close();
    await h.close();
  });
  /** Pool passes (each followed by the environment controller's) until nothing changes. */
  const settle = async (key = KEY) => {
    for (let i = 0; i < 20; i++) {
      const before = JSON.stringify((await listPoolMembers(db)).map((m) => [m.id, m.state, m.desired]));
      await ctl.reconcile(key);
      await h.controller.idle();
      const after = JSON.stringify((await listPoolMembers(db)).map((m) => [m.id, m.state, m.desired]));
      if (before === after) return;
    }
  };
  const members = async () => (await listPoolMembers(db)).filter((m) => m.desired === "running");
  return { h, db, secrets, envs, ctl, pools, settle, members };
}

test("a pool fills to its minimum, out of sight and out of the organisation's quota", async () => {
  const w = await world();
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 2, max: 4 });
  await w.settle();
  const ms = await w.members();
  assert.equal(ms.length, 2);
  assert.ok(
    ms.every((m) => m.state === "running"),
    "members are started, not just recorded",
  );
  assert.deepEqual(await w.envs.list(ROOT), [], "an owner's ls does not show them");
  assert.equal((await w.envs.page(ROOT, {})).items.length, 0, "nor does the paged list");
  await assert.rejects(w.envs.get(ROOT, ms[0]!.id), /does not exist/, "nor can they be addressed");
  assert.deepEqual(await orgUsage(w.db, BOOTSTRAP_ORG_ID), { cpus: 0, memoryBytes: 0, diskBytes: 0 });
  const [view] = await w.pools.list(ROOT);
  assert.equal(view?.ready, 2);
  assert.equal(view?.target, 2);
  // No secrets went to a member: the organisation's secret exists, yet no spec carried it.
  await w.secrets.set(ROOT, "org", "API_TOKEN", { value: "tok-4242", kind: "env" });
  await w.h.controller.reconcile(ms[0]!.id);
  const specs = w.h.runner.callsOf("ensureRunning").map((c) => c[0] as RunnerEnvSpec);
  assert.ok(specs.length >= 2 && specs.every((s) => !s.secrets), "members get no secrets");
});

test("a plain create takes a member over: its name, owner and secrets; the pool refills", async () => {
  const w = await world();
  await w.secrets.set(ROOT, "org", "API_TOKEN", { value: "tok-4242", kind: "env" });
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 1, max: 2 });
  await w.settle();
  const [member] = await w.members();
  assert.ok(member);
  const before = w.h.runner.calls.length;
  const { env, created } = await w.envs.create(ROOT, { name: "dev" });
  assert.equal(created, true);
  assert.equal(env.id, member.id, "the member itself became the environment");
  assert.equal(env.name, "dev");
  assert.equal(env.state, "running");
  const takeover = w.h.runner.calls.slice(before).filter((c) => c.method === "ensureRunning");
  assert.equal(takeover.length, 1, "one ensureRunning carries the takeover");
  const spec = takeover[0]!.args[0] as RunnerEnvSpec;
  assert.equal(spec.name, "dev");
  assert.deepEqual(spec.secrets, [{ name: "API_TOKEN", kind: "env", value: "tok-4242" }]);
  assert.deepEqual(
    (await w.envs.list(ROOT)).map((e) => e.name),
    ["dev"],
  );
  const row = await w.db
    .selectFrom("environments")
    .selectAll()
    .where("id", "=", env.id)
    .executeTakeFirstOrThrow();
  assert.notEqual(row.owner_id, POOL_OWNER_ID);
  assert.ok(!row.conditions.includes("PoolTakeover"), "the takeover mark is cleared once done");
  assert.ok((await listEvents(w.db, env.id)).some((e) => e.message === "claimed from the warm pool"));
  await w.settle();
  const refilled = await w.members();
  assert.equal(refilled.length, 1, "the pool refills");
  assert.notEqual(refilled[0]?.id, member.id);
  const pool = await findPool(w.db, KEY);
  assert.equal(pool?.claims_total, 1);
});

test("creates that ask for something else are not served from the pool", async () => {
  const w = await world();
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 1, max: 1 });
  await w.settle();
  const [member] = await w.members();
  const { env } = await w.envs.create(ROOT, { name: "big", cpus: 3 });
  assert.notEqual(env.id, member!.id, "a resource override makes a fresh environment");
  assert.equal((await w.members())[0]?.id, member!.id, "and the member waits on");
});

test("concurrent creates never get the same member twice; the rest are created afresh", async () => {
  const w = await world();
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 3, max: 3 });
  await w.settle();
  const ids = new Set((await w.members()).map((m) => m.id));
  assert.equal(ids.size, 3);
  const made = await Promise.all(
    Array.from({ length: 8 }, (_, i) => w.envs.create(ROOT, { name: `c${i}` }, { wait: false })),
  );
  const fromPool = made.filter((m) => ids.has(m.env.id));
  assert.equal(fromPool.length, 3, "each member went to exactly one create");
  assert.equal(new Set(made.map((m) => m.env.id)).size, 8, "no environment was handed out twice");
  assert.equal((await w.envs.list(ROOT)).length, 8);
});

test("quotas: members count for nobody, claims count for their new owner", async () => {
  const w = await world();
  await upsertQuotaRow(w.db, {
    org_id: BOOTSTRAP_ORG_ID,
    cpus: 2,
    memory_bytes: null,
    disk_bytes: null,
    user_max_running: 1,
    token_max_days: null,
    max_idle_timeout_s: null,
    public_ports: null,
    updated_at: new Date().toISOString(),
  } as never);
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 2, max: 2 });
  await w.settle();
  assert.equal((await w.members()).length, 2, "the pool is not held to the per-user limit");
  await w.envs.create(ROOT, { name: "one" });
  await assert.rejects(w.envs.create(ROOT, { name: "two" }), /quota/, "a second is over the user's quota");
});

test("a class change and a removed pool empty it", async () => {
  const w = await world();
  await w.h.classes.create(ROOT, { name: "small", cpus: 1, memory: "1g", disk: "2g" });
  const key = { ...KEY, className: "small" };
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, className: "small", min: 1, max: 1 });
  await w.settle(key);
  const [old] = await w.members();
  assert.equal(old?.cpus, 1);
  // An operator reshapes the class: the member made for the old shape is replaced.
  await w.db.updateTable("classes").set({ cpus: 2, max_cpus: 2 }).where("name", "=", "small").execute();
  await w.settle(key);
  const now = await w.members();
  assert.equal(now.length, 1);
  assert.notEqual(now[0]?.id, old?.id);
  assert.equal(now[0]?.cpus, 2);
  assert.equal(await w.pools.remove(ROOT, DEFAULT_IMAGE, "small"), true);
  await w.settle(key);
  assert.equal((await w.members()).length, 0, "a removed pool keeps nothing");
});

test("failed member creations back off instead of retrying at once", async () => {
  const w = await world();
  // A terminal refusal: the environment controller marks the member failed.
  w.h.runner.failNext("ensureRunning", new WarrenError("INVALID_ARGUMENT", "the runner refused it"), 50);
  await w.pools.set(ROOT, { image: DEFAULT_IMAGE, min: 1, max: 1 });
  await w.settle();
  const pool = await findPool(w.db, KEY);
  assert.ok(pool && pool.failures >= 1, `failures recorded (${pool?.failures})`);
  assert.ok(pool.retry_at && Date.parse(pool.retry_at) > Date.now(), "and a retry time ahead");
  await w.ctl.reconcile(KEY);
  await w.h.controller.idle();
  assert.equal(
    (await w.db.selectFrom("environments").select("id").where("desired", "=", "running").execute()).length,
    0,
    "during the backoff nothing new is made",
  );
  assert.match(pool.last_error ?? "", /refused/, "and the pool says why");
});
