import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { ErrorBody } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { buildApp, type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";

let h: Harness;
let app: FastifyInstance;
afterEach(async () => {
  await app?.close();
  await h?.close();
});

async function setup(runner?: FakeRunner) {
  h = await harness(runner ? { runner } : {});
  app = buildApp(h);
}

function assertError(
  res: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  message?: RegExp,
) {
  assert.equal(res.statusCode, status);
  const body = res.json() as ErrorBody;
  assert.equal(body.code, code);
  assert.equal(typeof body.message, "string");
  if (message) assert.match(body.message, message);
}

test("health and runner info", async () => {
  await setup();
  const health = await app.inject({ method: "GET", url: "/api/v1/health" });
  assert.equal(health.statusCode, 200);
  assert.deepEqual(health.json(), { ok: true, version: "0.1.0" });
  const info = await app.inject({ method: "GET", url: "/api/v1/runner" });
  assert.deepEqual(info.json().runtimes, ["runc", "crun"]);
});

test("full lifecycle over HTTP: create -> running -> stop -> start -> delete", async () => {
  await setup();
  const created = await app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  assert.equal(created.statusCode, 201);
  assert.equal(created.json().state, "running");

  const again = await app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "dev" } });
  assert.equal(again.statusCode, 200, "same spec: 200, not 201");

  const list = await app.inject({ method: "GET", url: "/api/v1/environments" });
  assert.deepEqual(
    list.json().items.map((e: { name: string }) => e.name),
    ["dev"],
  );

  const got = await app.inject({ method: "GET", url: "/api/v1/environments/dev" });
  assert.equal(got.json().observed.state, "running");
  assert.ok(got.json().observed.cgroupPaths);

  const stopped = await app.inject({
    method: "POST",
    url: "/api/v1/environments/dev/stop",
    payload: { graceSeconds: 1 },
  });
  assert.equal(stopped.statusCode, 200);
  assert.equal(stopped.json().state, "stopped");
  const stoppedNoBody = await app.inject({ method: "POST", url: "/api/v1/environments/dev/stop" });
  assert.equal(stoppedNoBody.statusCode, 200, "the stop body is optional");

  const started = await app.inject({ method: "POST", url: "/api/v1/environments/dev/start" });
  assert.equal(started.json().state, "running");

  const logs = await app.inject({ method: "GET", url: "/api/v1/environments/dev/logs?tail=2" });
  assert.equal(logs.statusCode, 200);
  assert.match(String(logs.headers["content-type"]), /^text\/plain/);
  assert.match(logs.body, /^\[warren\] stopped\n\[warren\] started \(runc, init pid \d+\)\n$/);

  const del = await app.inject({ method: "DELETE", url: "/api/v1/environments/dev?force=1" });
  assert.equal(del.statusCode, 204);
  assertError(await app.inject({ method: "GET", url: "/api/v1/environments/dev" }), 404, "ENV_NOT_FOUND");
});

test("404 ErrorBody for unknown environments on every route", async () => {
  await setup();
  for (const [method, url] of [
    ["GET", "/api/v1/environments/nope"],
    ["POST", "/api/v1/environments/nope/start"],
    ["POST", "/api/v1/environments/nope/stop"],
    ["DELETE", "/api/v1/environments/nope"],
    ["GET", "/api/v1/environments/nope/logs"],
  ] as const) {
    assertError(await app.inject({ method, url }), 404, "ENV_NOT_FOUND", /"nope" does not exist/);
  }
  assertError(
    await app.inject({ method: "GET", url: "/api/v1/nothing-here" }),
    404,
    "INVALID_ARGUMENT",
    /no such route/,
  );
});

test("user errors map to their catalog status", async () => {
  const runner = new FakeRunner({ runtimes: ["runc"] });
  await setup(runner);
  const post = (payload: object) => app.inject({ method: "POST", url: "/api/v1/environments", payload });
  assertError(await post({ name: "a", className: "nope" }), 404, "CLASS_NOT_FOUND");
  assertError(await post({ name: "a", memory: "2x" }), 400, "INVALID_SIZE");
  assertError(await post({ name: "a", cpus: 99 }), 400, "OUT_OF_CLASS_BOUNDS");
  assertError(await post({ name: "a", runtime: "crun" }), 400, "RUNTIME_UNSUPPORTED");
  // The image is looked for on the runner placement chose, so only once one has room.
  assertError(await post({ name: "a", image: "x/y" }), 404, "IMAGE_NOT_FOUND");
  runner.diskFreeBytes = 1024 ** 3;
  assertError(await post({ name: "a" }), 507, "INSUFFICIENT_DISK");
  assertError(await post({ name: "UPPER" }), 400, "INVALID_ARGUMENT");
});

test("schema validation errors are 400 INVALID_ARGUMENT naming the field", async () => {
  await setup();
  const post = (payload: object) => app.inject({ method: "POST", url: "/api/v1/environments", payload });
  assertError(await post({ cpus: "many" }), 400, "INVALID_ARGUMENT", /"cpus"/);
  assertError(await post({ runtime: "docker" }), 400, "INVALID_ARGUMENT", /"runtime"/);
  assertError(await post({ colour: "red" }), 400, "INVALID_ARGUMENT", /"colour"/);
  assertError(
    await app.inject({
      method: "POST",
      url: "/api/v1/classes",
      payload: { name: "x", cpus: 1, memory: "1g" },
    }),
    400,
    "INVALID_ARGUMENT",
    /"disk"/,
  );
  assertError(
    await app.inject({ method: "GET", url: "/api/v1/environments/x/logs?tail=-1" }),
    400,
    "INVALID_ARGUMENT",
    /"tail"/,
  );
  const badJson = await app.inject({
    method: "POST",
    url: "/api/v1/environments",
    headers: { "content-type": "application/json" },
    payload: "{not json",
  });
  assertError(badJson, 400, "INVALID_ARGUMENT");
});

test("bodies above 1 MiB are refused", async () => {
  await setup();
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/classes",
    payload: { name: "x".repeat(1024 * 1024 + 10), cpus: 1, memory: "1g", disk: "1g" },
  });
  assert.equal(res.statusCode, 413);
  assert.equal((res.json() as ErrorBody).code, "PAYLOAD_TOO_LARGE");
});

test("unknown errors are 500 INTERNAL without leaking the message", async () => {
  await setup();
  h.runner.failNext("info", new Error("secret stack detail"));
  const res = await app.inject({ method: "GET", url: "/api/v1/runner" });
  assertError(res, 500, "INTERNAL");
  assert.doesNotMatch(res.body, /secret/);
});

test("classes: list, create, conflicts, delete rules", async () => {
  await setup();
  const list = await app.inject({ method: "GET", url: "/api/v1/classes" });
  assert.equal(list.json().items[0].name, "default");
  const payload = { name: "big", cpus: 4, memory: "8g", disk: "50g", maxCpus: 8, maxMemory: "16g" };
  const created = await app.inject({ method: "POST", url: "/api/v1/classes", payload });
  assert.equal(created.statusCode, 201);
  assert.deepEqual(created.json(), {
    name: "big",
    cpus: 4,
    memoryBytes: 8 * 1024 ** 3,
    diskBytes: 50 * 1024 ** 3,
    pids: 4096,
    maxCpus: 8,
    maxMemoryBytes: 16 * 1024 ** 3,
    maxDiskBytes: 50 * 1024 ** 3,
    builtin: false,
    egress: { mode: "all" },
    requiredLabels: {},
    cpuOvercommit: 4,
    memoryOvercommit: 1,
    diskOvercommit: 4,
    ioLimits: {},
    cpuBurst: null,
  });
  assertError(await app.inject({ method: "POST", url: "/api/v1/classes", payload }), 409, "CLASS_EXISTS");
  assertError(
    await app.inject({
      method: "POST",
      url: "/api/v1/classes",
      payload: { ...payload, name: "slowio", ioLimits: { writeBps: 1 } },
    }),
    400,
    "INVALID_ARGUMENT",
    /--write-bps 1 is out of bounds/,
  );
  assertError(
    await app.inject({
      method: "POST",
      url: "/api/v1/classes",
      payload: { ...payload, name: "small", maxCpus: 1 },
    }),
    400,
    "INVALID_ARGUMENT",
    /below the default/,
  );
  const env = await app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "e", className: "big" },
  });
  assert.equal(env.statusCode, 201);
  assertError(
    await app.inject({ method: "DELETE", url: "/api/v1/classes/big" }),
    409,
    "CLASS_IN_USE",
    /used by e/,
  );
  assertError(
    await app.inject({ method: "DELETE", url: "/api/v1/classes/default" }),
    409,
    "CLASS_BUILTIN",
    /built in/,
  );
  assertError(await app.inject({ method: "DELETE", url: "/api/v1/classes/none" }), 404, "CLASS_NOT_FOUND");
  await app.inject({ method: "DELETE", url: "/api/v1/environments/e?force=1" });
  assert.equal((await app.inject({ method: "DELETE", url: "/api/v1/classes/big" })).statusCode, 204);
});

function ndjson(body: string): unknown[] {
  return body
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

test("images: list, import and base stream NDJSON progress and a final line", async () => {
  await setup(new FakeRunner({ images: [] }));
  const base = await app.inject({
    method: "POST",
    url: "/api/v1/images/base",
    payload: { mirror: "http://127.0.0.1/debian" },
  });
  assert.equal(base.statusCode, 200);
  assert.match(String(base.headers["content-type"]), /application\/x-ndjson/);
  const baseLines = ndjson(base.body);
  assert.match((baseLines[0] as { message: string }).message, /127\.0\.0\.1/);
  assert.equal((baseLines.at(-1) as { done: { ref: string } }).done.ref, "warren/debian:bookworm");

  const imported = await app.inject({
    method: "POST",
    url: "/api/v1/images/import",
    payload: { path: "/tmp/tools.tar", ref: "acme/tools:1" },
  });
  const lines = ndjson(imported.body);
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0], { phase: "unpack", message: "unpacking /tmp/tools.tar", current: 1, total: 2 });
  assert.equal((lines[2] as { done: { ref: string } }).done.ref, "acme/tools:1");

  const list = await app.inject({ method: "GET", url: "/api/v1/images" });
  assert.deepEqual(
    list.json().items.map((i: { ref: string }) => i.ref),
    ["warren/debian:bookworm", "acme/tools:1"],
  );

  h.runner.failNext(
    "importImage",
    new (await import("@warren/protocol")).WarrenError("IMAGE_CORRUPT", "bad digest"),
  );
  const failed = await app.inject({
    method: "POST",
    url: "/api/v1/images/import",
    payload: { path: "/tmp/x.tar" },
  });
  assert.equal(failed.statusCode, 200);
  assert.deepEqual(ndjson(failed.body).at(-1), { error: { code: "IMAGE_CORRUPT", message: "bad digest" } });

  assertError(
    await app.inject({ method: "POST", url: "/api/v1/images/import", payload: { path: "rel/x.tar" } }),
    400,
    "INVALID_ARGUMENT",
    /must be absolute/,
  );
});

test("create with wait=0 returns at once with the pending env", async () => {
  await setup();
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/environments?wait=0",
    payload: { name: "dev" },
  });
  assert.equal(res.statusCode, 201);
  assert.ok(["pending", "creating", "running"].includes(res.json().state));
});
