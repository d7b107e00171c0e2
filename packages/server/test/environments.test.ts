import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { type ErrorCode, isWarrenError, NAME_RE } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { countRows, type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { generateName } from "../src/services/names.ts";

const GiB = 1024 ** 3;
let h: Harness;
afterEach(async () => h?.close());

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWarrenError(err), `expected a WarrenError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test("generated names match NAME_RE", () => {
  for (let i = 0; i < 200; i++) assert.match(generateName(), NAME_RE);
  assert.match(generateName(), /^[a-z]+-[a-z]+-[0-9a-f]{4}$/);
});

test("create resolves defaults from the class and waits until running", async () => {
  h = await harness();
  const { env, created } = await h.envs.create(ROOT, { name: "dev" });
  assert.equal(created, true);
  assert.equal(env.state, "running");
  assert.match(env.id, /^[a-z0-9]{12}$/);
  assert.deepEqual(env.spec, {
    name: "dev",
    className: "default",
    image: "warren/debian:bookworm",
    runtime: "runc",
    resources: { cpus: 2, memoryBytes: 2 * GiB, diskBytes: 10 * GiB, pids: 4096 },
    egress: { mode: "all" },
    user: "root",
  });
  assert.equal(env.slot, 0);
  // The runner logs its own start; the controller adds only what the runner cannot know.
  assert.deepEqual(h.runner.events.get(env.id), ["created"]);
  assert.equal(h.runner.logLines.get(env.id), "[warren] started (runc, init pid 1000)\n[warren] created\n");
  const second = await h.envs.create(ROOT, {
    name: "dev2",
    cpus: 4,
    memory: "4g",
    disk: "20Gi",
    runtime: "crun",
  });
  assert.equal(second.env.slot, 1);
  assert.deepEqual(second.env.spec.resources, {
    cpus: 4,
    memoryBytes: 4 * GiB,
    diskBytes: 20 * GiB,
    pids: 4096,
  });
  assert.equal(second.env.spec.runtime, "crun");
});

test("create without a name generates one", async () => {
  h = await harness();
  const { env } = await h.envs.create(ROOT, {});
  assert.match(env.name, NAME_RE);
});

const userErrors: [string, () => FakeRunner, Parameters<Harness["envs"]["create"]>[1], ErrorCode, RegExp][] =
  [
    [
      "bad name",
      () => new FakeRunner(),
      { name: "Bad_Name" },
      "INVALID_ARGUMENT",
      /lowercase letters, digits and dashes/,
    ],
    [
      "unknown class",
      () => new FakeRunner(),
      { name: "a", className: "huge" },
      "CLASS_NOT_FOUND",
      /warren class ls/,
    ],
    [
      "bad size",
      () => new FakeRunner(),
      { name: "a", memory: "lots" },
      "INVALID_SIZE",
      /invalid memory "lots".*512m/,
    ],
    [
      "cpus above class max",
      () => new FakeRunner(),
      { name: "a", cpus: 32 },
      "OUT_OF_CLASS_BOUNDS",
      /cpus 32 exceeds the maximum of 16/,
    ],
    [
      "memory above class max",
      () => new FakeRunner(),
      { name: "a", memory: "32g" },
      "OUT_OF_CLASS_BOUNDS",
      /memory 32Gi exceeds the maximum of 16Gi/,
    ],
    [
      "disk above class max",
      () => new FakeRunner(),
      { name: "a", disk: "1t" },
      "OUT_OF_CLASS_BOUNDS",
      /disk 1Ti exceeds the maximum of 100Gi/,
    ],
    [
      "unsupported runtime",
      () => new FakeRunner({ runtimes: ["runc"] }),
      { name: "a", runtime: "crun" },
      "RUNTIME_UNSUPPORTED",
      /"crun" is not available.*supported: runc/,
    ],
    [
      "missing image",
      () => new FakeRunner(),
      { name: "a", image: "acme/tools:1" },
      "IMAGE_NOT_FOUND",
      /warren image import PATH/,
    ],
    [
      "missing default image",
      () => new FakeRunner({ images: [] }),
      { name: "a" },
      "IMAGE_NOT_FOUND",
      /built by `warren up`/,
    ],
    [
      "insufficient disk",
      // 2 GiB free at the default disk overcommit of 4:1 promises 8 GiB, under the 10 GiB asked.
      () => new FakeRunner({ diskFreeBytes: 2 * GiB }),
      { name: "a" },
      "INSUFFICIENT_DISK",
      /needs 10Gi, environments already reserve 0 and the host has 2Gi free \(its class promises free disk up to 4:1, so 8Gi in all\)/,
    ],
  ];

for (const [name, runner, req, code, message] of userErrors) {
  test(`create: ${name} -> ${code}, and no row is left behind`, async () => {
    h = await harness({ runner: runner() });
    await rejectsWith(h.envs.create(ROOT, req), code, message);
    assert.equal(await countRows(h, "environments"), 0);
    assert.equal(h.runner.callsOf("ensureRunning").length, 0);
  });
}

test("disk admission counts the disks of existing environments", async () => {
  // 6 GiB free promised 4:1 (the default disk overcommit) is 24 GiB: two 10 GiB disks fit.
  h = await harness({ runner: new FakeRunner({ diskFreeBytes: 6 * GiB }) });
  await h.envs.create(ROOT, { name: "one" });
  await h.envs.create(ROOT, { name: "two" });
  await rejectsWith(
    h.envs.create(ROOT, { name: "three" }),
    "INSUFFICIENT_DISK",
    /reserve 20Gi and the host has 6Gi free/,
  );
  assert.equal(await countRows(h, "environments"), 2);
});

test("same name and same spec returns the existing env (created: false) and starts it", async () => {
  h = await harness();
  const first = await h.envs.create(ROOT, { name: "dev" });
  await h.envs.stop(ROOT, "dev", 0);
  const again = await h.envs.create(ROOT, { name: "dev" });
  assert.equal(again.created, false);
  assert.equal(again.env.id, first.env.id);
  assert.equal(again.env.state, "running");
  assert.equal(await countRows(h, "environments"), 1);
});

test("same name with a different spec is NAME_CONFLICT naming the fields", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  await rejectsWith(
    h.envs.create(ROOT, { name: "dev", cpus: 4, disk: "20g" }),
    "NAME_CONFLICT",
    /cpus 2 \(existing\) vs 4 \(requested\); disk 10Gi \(existing\) vs 20Gi \(requested\).*another --name.*warren rm dev/,
  );
  assert.equal(await countRows(h, "environments"), 1);
});

test("concurrent creates take distinct slots", async () => {
  h = await harness();
  const made = await Promise.all(
    ["a", "b", "c", "d"].map((name) => h.envs.create(ROOT, { name }, { wait: false })),
  );
  assert.deepEqual(made.map((m) => m.env.slot).sort(), [0, 1, 2, 3]);
});

test("unknown environment is ENV_NOT_FOUND", async () => {
  h = await harness();
  await rejectsWith(h.envs.get(ROOT, "nope"), "ENV_NOT_FOUND", /warren ls/);
  await rejectsWith(h.envs.start(ROOT, "nope"), "ENV_NOT_FOUND", /nope/);
  await rejectsWith(h.envs.delete(ROOT, "nope", false), "ENV_NOT_FOUND", /nope/);
});

test("lifecycle: stop, start, delete; get includes live observation", async () => {
  h = await harness();
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  const got = await h.envs.get(ROOT, "dev");
  assert.equal(got.observed?.state, "running");
  assert.ok(got.observed?.pid);
  assert.deepEqual(got.observed?.uidRange, { start: 100000, size: 65536 });
  assert.ok(got.observed?.psi);
  assert.equal((await h.envs.get(ROOT, env.id)).name, "dev", "addressable by id");

  const stopped = await h.envs.stop(ROOT, "dev", 3);
  assert.equal(stopped.state, "stopped");
  assert.equal(h.runner.callsOf("ensureStopped").at(-1)?.[1], 3000);
  const started = await h.envs.start(ROOT, "dev");
  assert.equal(started.state, "running");
  // Without force a running environment (and with it its workspace) is not removed.
  await rejectsWith(h.envs.delete(ROOT, "dev", false), "ENV_RUNNING", /warren stop dev`.*warren rm -f dev`/);
  assert.equal((await h.envs.get(ROOT, "dev")).state, "running");
  assert.equal(h.runner.callsOf("remove").length, 0);
  await h.envs.stop(ROOT, "dev");
  await h.envs.delete(ROOT, "dev", false);
  assert.equal(await countRows(h, "environments"), 0);
  assert.equal(h.runner.envs.size, 0);
  assert.equal(h.runner.callsOf("ensureStopped").at(-1)?.[1], 10_000, "a graceful delete stops first");
  // Each start and stop once in the environment's log: the runner's line, not the runner's and
  // the controller's both.
  const log = (h.runner.logLines.get(env.id) ?? "").replace(/ \(runc, init pid \d+\)/g, "");
  assert.deepEqual(log.split("\n").filter(Boolean), [
    "[warren] started",
    "[warren] created",
    "[warren] stopped",
    "[warren] started",
    "[warren] stopped",
    "[warren] deleting",
  ]);
});

test("force delete skips the graceful stop", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  const stopsBefore = h.runner.callsOf("ensureStopped").length;
  await h.envs.delete(ROOT, "dev", true);
  assert.equal(h.runner.callsOf("ensureStopped").length, stopsBefore);
  assert.equal(h.runner.callsOf("remove").length, 1);
});

test("waiting times out with TIMEOUT and the last error when the runner keeps failing", async () => {
  h = await harness({ settleTimeoutMs: 300 });
  h.runner.failNext("ensureRunning", new Error("mount rootfs: EBUSY"), 1000);
  await rejectsWith(h.envs.create(ROOT, { name: "dev" }), "TIMEOUT", /still creating, not running.*EBUSY/);
  assert.equal(await countRows(h, "environments"), 1, "the intent stays; the controller keeps trying");
});

test("requireRunning is ENV_NOT_RUNNING for a stopped env", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  await h.envs.stop(ROOT, "dev");
  await rejectsWith(h.envs.requireRunning(ROOT, "dev"), "ENV_NOT_RUNNING", /warren start dev/);
});
