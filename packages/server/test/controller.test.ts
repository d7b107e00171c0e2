import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { getEnvById, parseConditions } from "../src/store/queries/envs.ts";
import { listEvents } from "../src/store/queries/events.ts";
import { FakeClock, flush } from "./fake-clock.ts";

let h: Harness;
afterEach(async () => h?.close());

test("a terminal runner error marks the env failed with a reason and stops retrying", async () => {
  const clock = new FakeClock();
  h = await harness({ clock, autoReconcile: false });
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  h.runner.failNext("ensureRunning", new WarrenError("IMAGE_CORRUPT", "layer sha256:ab digest mismatch"));
  h.controller.enqueue(env.id);
  await h.controller.idle();
  const row = await getEnvById(h.store.db, env.id);
  assert.equal(row?.state, "failed");
  const failed = parseConditions(row!).find((c) => c.type === "Failed");
  assert.equal(failed?.reason, "IMAGE_CORRUPT");
  assert.match(failed?.message ?? "", /digest mismatch/);
  assert.deepEqual(clock.pending(), [], "no retry scheduled");
  assert.match(h.runner.events.get(env.id)?.at(-1) ?? "", /^failed: IMAGE_CORRUPT: .*digest mismatch/);
  assert.match((await listEvents(h.store.db, env.id)).at(-1)?.message ?? "", /^failed: IMAGE_CORRUPT/);

  // Resync passes leave a failed env alone...
  const calls = h.runner.callsOf("ensureRunning").length;
  await h.controller.reconcile(env.id);
  assert.equal(h.runner.callsOf("ensureRunning").length, calls);
  // ...until the user asks again, which clears the failure.
  const start = h.envs.start(ROOT, "dev");
  await flush(); // the intent is committed before anything is enqueued
  h.controller.enqueue(env.id);
  assert.equal((await start).state, "running");
  assert.deepEqual((await h.envs.get(ROOT, "dev")).conditions, []);
});

test("a start after a terminal failure reports ENV_FAILED with the cause", async () => {
  h = await harness();
  h.runner.failNext("ensureRunning", new WarrenError("IMAGE_CORRUPT", "bad tar"));
  await assert.rejects(h.envs.create(ROOT, { name: "dev" }), (err: WarrenError) => {
    assert.equal(err.code, "ENV_FAILED");
    assert.match(err.message, /IMAGE_CORRUPT.*bad tar.*warren start dev.*warren rm dev/);
    return true;
  });
});

test("other errors retry with exponential backoff and record a ReconcileError condition", async () => {
  const clock = new FakeClock();
  h = await harness({ clock, autoReconcile: false, baseDelayMs: 100, maxDelayMs: 1000 });
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  h.runner.failNext("ensureRunning", new Error("netlink: EAGAIN"), 3);
  h.controller.enqueue(env.id);
  await flush();
  assert.equal(h.controller.failures(env.id), 1);
  assert.deepEqual(clock.pending(), [100]);
  const row = await getEnvById(h.store.db, env.id);
  assert.equal(row?.state, "creating");
  const cond = parseConditions(row!).find((c) => c.type === "ReconcileError");
  assert.match(cond?.message ?? "", /reconcile env .*: netlink: EAGAIN/);

  await clock.advance(100);
  assert.deepEqual(clock.pending(), [200]);
  await clock.advance(200);
  assert.deepEqual(clock.pending(), [400]);
  assert.equal(h.runner.callsOf("ensureRunning").length, 3);
  await clock.advance(400);
  const healed = await getEnvById(h.store.db, env.id);
  assert.equal(healed?.state, "running");
  assert.deepEqual(parseConditions(healed!), [], "the retry condition is cleared on success");
  assert.equal(h.controller.failures(env.id), 0);
});

test("start sweeps leftovers of unknown ids, keeps known ones and enqueues every row", async () => {
  h = await harness({ autoReconcile: false });
  const a = await h.envs.create(ROOT, { name: "a" }, { wait: false });
  const b = await h.envs.create(ROOT, { name: "b" }, { wait: false });
  h.runner.leftovers.add("zzzzzzzzzzzz");
  const { swept } = await h.controller.start();
  assert.deepEqual(swept, ["zzzzzzzzzzzz"]);
  assert.deepEqual([...(h.runner.sweeps[0] ?? [])].sort(), [a.env.id, b.env.id].sort());
  await h.controller.idle();
  assert.equal((await h.envs.get(ROOT, "a")).state, "running");
  assert.equal((await h.envs.get(ROOT, "b")).state, "running");
});

test("periodic resync heals drift nobody reported", async () => {
  const clock = new FakeClock();
  h = await harness({ clock });
  // The harness builds its controller with resync off; make one with resync on.
  const { createEnvironmentController } = await import("../src/controllers/environment/controller.ts");
  const { silentLogger } = await import("../src/logger.ts");
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  const ctl = createEnvironmentController({
    db: h.store.db,
    runner: h.runner,
    clock,
    logger: silentLogger,
    changes: h.changes,
    resyncMs: 10_000,
  });
  await ctl.start();
  await ctl.idle();
  await h.controller.idle();
  assert.equal(h.runner.envs.get(env.id)?.state, "running");
  h.runner.envs.delete(env.id); // the host lost it (reboot, OOM, someone ran runc delete)
  await clock.advance(10_000);
  await ctl.idle();
  assert.equal(h.runner.envs.get(env.id)?.state, "running", "recreated by the resync");
  await ctl.close();
});
