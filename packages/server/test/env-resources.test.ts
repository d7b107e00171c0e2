// `warren set` and `warren stats` in-process: the order of record and apply, the rollback of a
// refused change, class bounds, the reconciler applying a recorded-but-unapplied change, and
// the HTTP routes.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { isWarrenError, WarrenError } from "@warren/protocol";
import { buildApp, type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { plan } from "../src/controllers/environment/plan.ts";
import { updateEnvResources } from "../src/store/queries/env-resources.ts";
import { getEnvById, parseConditions } from "../src/store/queries/envs.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
let h: Harness;
afterEach(async () => h?.close());

async function row(name: string) {
  const env = await h.envs.get(ROOT, name);
  return (await getEnvById(h.store.db, env.id))!;
}

test("set on a running environment records the change, then applies it live", async () => {
  h = await harness();
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  const out = await h.envs.setResources(ROOT, "dev", { cpus: 1.5, memory: "3g", pids: 500 });
  assert.deepEqual(out.spec.resources, { cpus: 1.5, memoryBytes: 3 * GiB, diskBytes: 10 * GiB, pids: 500 });
  assert.deepEqual(out.observed?.resources, out.spec.resources, "the runner reports what it applied");
  const calls = h.runner.callsOf("setResources");
  assert.equal(calls.length, 1);
  assert.equal((calls[0]![0] as { resources: { cpus: number } }).resources.cpus, 1.5);
  const r = await row("dev");
  assert.equal(r.memory_bytes, 3 * GiB);
  assert.ok(r.generation > 1, "a change of limits is a change of intent");
  // Only the named fields change.
  const again = await h.envs.setResources(ROOT, env.id, { pids: 600 });
  assert.deepEqual(again.spec.resources, { cpus: 1.5, memoryBytes: 3 * GiB, diskBytes: 10 * GiB, pids: 600 });
});

test("a refused change (memory below use) changes neither the runner nor the record", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev", memory: "1g" });
  h.runner.memoryInUseBytes = 300 * MiB;
  const before = await row("dev");
  await assert.rejects(h.envs.setResources(ROOT, "dev", { memory: "256m", cpus: 1 }), (err) => {
    assert.ok(isWarrenError(err, "INVALID_ARGUMENT"));
    return true;
  });
  const after = await row("dev");
  assert.equal(after.memory_bytes, before.memory_bytes);
  assert.equal(after.cpus, before.cpus, "cpus of the same request are not kept either");
  const env = await h.envs.get(ROOT, "dev");
  assert.equal(env.observed?.resources?.memoryBytes, GiB);
  // The reconciler finds nothing to do afterwards.
  await h.controller.reconcile(env.id);
  assert.equal(h.runner.callsOf("setResources").length, 1);
});

test("set checks class bounds and input before recording anything", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  const cases: [Parameters<Harness["envs"]["setResources"]>[2], string, RegExp][] = [
    [{ cpus: 32 }, "OUT_OF_CLASS_BOUNDS", /cpus 32 exceeds the maximum of 16/],
    [{ memory: "32g" }, "OUT_OF_CLASS_BOUNDS", /memory 32Gi exceeds the maximum of 16Gi/],
    [{ memory: "lots" }, "INVALID_SIZE", /invalid memory/],
    [{ cpus: 0 }, "INVALID_ARGUMENT", /cpus 0 is below the minimum of 0\.01/],
    [{ pids: 0 }, "INVALID_ARGUMENT", /pids/],
    [{}, "INVALID_ARGUMENT", /nothing to change/],
  ];
  const gen = (await row("dev")).generation;
  for (const [req, code, message] of cases) {
    await assert.rejects(h.envs.setResources(ROOT, "dev", req), (err) => {
      assert.ok(isWarrenError(err), String(err));
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal((await row("dev")).generation, gen);
  assert.equal(h.runner.callsOf("setResources").length, 0);
  await assert.rejects(h.envs.setResources(ROOT, "nope", { cpus: 1 }), (e) =>
    isWarrenError(e, "ENV_NOT_FOUND"),
  );
});

test("set on a stopped environment only records; the next start uses the new limits", async () => {
  h = await harness();
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  await h.envs.stop(ROOT, "dev", 0);
  h.runner.memoryInUseBytes = 10 * GiB; // a stopped environment uses nothing: no refusal
  const out = await h.envs.setResources(ROOT, "dev", { memory: "512m" });
  assert.equal(out.spec.resources.memoryBytes, 512 * MiB);
  assert.equal(h.runner.callsOf("setResources").length, 0);
  await h.envs.start(ROOT, "dev");
  const started = h.runner.callsOf("ensureRunning").at(-1)![0] as { resources: { memoryBytes: number } };
  assert.equal(started.resources.memoryBytes, 512 * MiB);
  assert.equal(h.runner.envs.get(env.id)?.spec.resources.memoryBytes, 512 * MiB);
});

test("a change recorded but never applied (daemon died) is applied by the next reconcile", async () => {
  h = await harness({ autoReconcile: false });
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  await h.controller.reconcile(env.id);
  assert.equal(h.runner.envs.get(env.id)?.state, "running");
  await updateEnvResources(
    h.store.db,
    env.id,
    { cpus: 1, memoryBytes: GiB, pids: 100 },
    "2024-01-01T00:00:00Z",
  );
  await h.controller.reconcile(env.id);
  assert.deepEqual(h.runner.envs.get(env.id)?.spec.resources, {
    cpus: 1,
    memoryBytes: GiB,
    diskBytes: 10 * GiB,
    pids: 100,
  });
  await h.controller.reconcile(env.id);
  assert.equal(h.runner.callsOf("setResources").length, 1, "converged: no further applies");
});

test("the reconciler records a refused resize as ResizePending, not as a failure, and clears it", async () => {
  h = await harness({ autoReconcile: false });
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  await h.controller.reconcile(env.id);
  h.runner.memoryInUseBytes = GiB;
  await updateEnvResources(
    h.store.db,
    env.id,
    { cpus: 2, memoryBytes: 512 * MiB, pids: 4096 },
    "2024-01-01T00:00:00Z",
  );
  await h.controller.reconcile(env.id);
  let r = (await getEnvById(h.store.db, env.id))!;
  assert.equal(r.state, "running");
  assert.deepEqual(
    parseConditions(r).map((c) => c.type),
    ["ResizePending"],
  );
  h.runner.memoryInUseBytes = 100 * MiB;
  await h.controller.reconcile(env.id); // applies now
  await h.controller.reconcile(env.id); // nothing left: the condition goes
  r = (await getEnvById(h.store.db, env.id))!;
  assert.deepEqual(parseConditions(r), []);
  assert.equal(h.runner.envs.get(env.id)?.spec.resources.memoryBytes, 512 * MiB);
});

test("plan: a limit difference on a running environment plans one setResources", () => {
  const base = { desired: "running", state: "running", stopGraceMs: 0 } as const;
  const want = { cpus: 1, memoryBytes: GiB, pids: 10 };
  assert.deepEqual(
    plan({
      row: { ...base, resources: want },
      observed: { state: "running", resources: { ...want, diskBytes: 1 } },
    }),
    [],
  );
  assert.deepEqual(
    plan({
      row: { ...base, resources: want },
      observed: { state: "running", resources: { ...want, cpus: 2, diskBytes: 1 } },
    }),
    [{ type: "setResources" }],
  );
  // Stopped: the next start applies them; nothing to do live.
  assert.deepEqual(
    plan({
      row: { ...base, desired: "stopped", state: "stopped", resources: want },
      observed: { state: "stopped", resources: { ...want, cpus: 2, diskBytes: 1 } },
    }),
    [],
  );
});

test("a transient runner failure keeps the recorded change for the reconciler", async () => {
  h = await harness({ autoReconcile: false });
  const { env } = await h.envs.create(ROOT, { name: "dev" }, { wait: false });
  await h.controller.reconcile(env.id);
  h.runner.failNext("setResources", new WarrenError("DAEMON_UNAVAILABLE", "runner gone"));
  await assert.rejects(h.envs.setResources(ROOT, "dev", { cpus: 1 }), /recorded, but applying them failed/);
  assert.equal((await getEnvById(h.store.db, env.id))!.cpus, 1);
  await h.controller.reconcile(env.id);
  assert.equal(h.runner.envs.get(env.id)?.spec.resources.cpus, 1);
});

test("stats: one running environment, all running ones, ENV_NOT_RUNNING when stopped", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "a" });
  await h.envs.create(ROOT, { name: "b" });
  const one = await h.envs.stats(ROOT, "a");
  assert.equal(one.name, "a");
  assert.equal(one.memoryLimitBytes, 2 * GiB);
  await h.envs.stop(ROOT, "b", 0);
  assert.deepEqual(
    (await h.envs.statsAll(ROOT)).map((s) => s.name),
    ["a"],
  );
  await assert.rejects(h.envs.stats(ROOT, "b"), (e) => isWarrenError(e, "ENV_NOT_RUNNING"));
});

test("HTTP: PATCH /environments/:name and GET stats", async () => {
  h = await harness();
  const app = buildApp(h);
  try {
    await h.envs.create(ROOT, { name: "dev" });
    const patched = await app.inject({
      method: "PATCH",
      url: "/api/v1/environments/dev",
      payload: { cpus: 1, memory: "1g", pids: 128 },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json().spec.resources, {
      cpus: 1,
      memoryBytes: GiB,
      diskBytes: 10 * GiB,
      pids: 128,
    });
    const bad = await app.inject({
      method: "PATCH",
      url: "/api/v1/environments/dev",
      payload: { disk: "1g" },
    });
    assert.equal(bad.statusCode, 400, "the disk is not live-resizable");
    h.runner.memoryInUseBytes = 2 * GiB;
    const refused = await app.inject({
      method: "PATCH",
      url: "/api/v1/environments/dev",
      payload: { memory: "512m" },
    });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, "INVALID_ARGUMENT");
    const st = await app.inject({ method: "GET", url: "/api/v1/environments/dev/stats" });
    assert.equal(st.statusCode, 200);
    assert.equal(st.json().pidsLimit, 128);
    const all = await app.inject({ method: "GET", url: "/api/v1/stats" });
    assert.deepEqual(
      all.json().items.map((s: { name: string }) => s.name),
      ["dev"],
    );
  } finally {
    await app.close();
  }
});
