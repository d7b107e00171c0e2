// Egress policy end to end in the control plane: class create over HTTP, stored on the class,
// copied onto the environment, shown by GET and carried to the runner in RunnerEnvSpec.egress.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, test } from "node:test";
import type { EgressPolicy, ErrorBody, RunnerEnvSpec } from "@warren/protocol";
import { buildApp, type Harness, harness, tempDir } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { openStore, storeFile } from "../src/store/db.ts";
import { migrate } from "../src/store/migrate.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import { getClass, toClassSpec } from "../src/store/queries/classes.ts";
import { getEnvByName, toEnvironment } from "../src/store/queries/envs.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = undefined;
  h = undefined;
});

async function setup(): Promise<FastifyInstance> {
  h = await harness();
  app = buildApp(h);
  return app;
}

const base = { cpus: 1, memory: "1g", disk: "2g" };

for (const [egress, want] of [
  [undefined, { mode: "all" }],
  ["all", { mode: "all" }],
  ["none", { mode: "none" }],
  ["10.0.0.0/8,2001:db8::/32", { mode: "allow", cidrs: ["10.0.0.0/8", "2001:db8::/32"] }],
  ["192.0.2.10", { mode: "allow", cidrs: ["192.0.2.10/32"] }],
] as [string | undefined, EgressPolicy][]) {
  test(`class create --egress ${egress ?? "(unset)"} reaches the class, the env and the runner`, async () => {
    const a = await setup();
    const payload = { name: "c", ...base, ...(egress === undefined ? {} : { egress }) };
    const created = await a.inject({ method: "POST", url: "/api/v1/classes", payload });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json().egress, want);
    const listed = await a.inject({ method: "GET", url: "/api/v1/classes" });
    assert.deepEqual(listed.json().items.find((c: { name: string }) => c.name === "c").egress, want);

    const env = await a.inject({
      method: "POST",
      url: "/api/v1/environments",
      payload: { name: "e", className: "c" },
    });
    assert.equal(env.statusCode, 201, env.body);
    assert.deepEqual(env.json().spec.egress, want);
    const got = await a.inject({ method: "GET", url: "/api/v1/environments/e" });
    assert.deepEqual(got.json().spec.egress, want, "inspect shows the effective policy");

    const specs = h!.runner.callsOf("ensureRunning").map((args) => args[0] as RunnerEnvSpec);
    assert.ok(specs.length > 0, "the runner was asked to start it");
    for (const s of specs) assert.deepEqual(s.egress, want);
  });
}

test("bad egress values are refused with INVALID_ARGUMENT and store nothing", async () => {
  const a = await setup();
  for (const [egress, why] of [
    ["10.0.0.0/33", /prefix length "33"/],
    ["10.0.0.1/8", /did you mean 10\.0\.0\.0\/8/],
    ["2001:db8::/200", /0 to 128/],
    ["none,10.0.0.0/8", /cannot be mixed/],
    ["intranet", /not an IPv4 or IPv6 address/],
    ["", /empty/],
  ] as const) {
    const res = await a.inject({
      method: "POST",
      url: "/api/v1/classes",
      payload: { name: "c", ...base, egress },
    });
    assert.equal(res.statusCode, 400, egress);
    const body = res.json() as ErrorBody;
    assert.equal(body.code, "INVALID_ARGUMENT");
    assert.match(body.message, why);
  }
  const wrongType = await a.inject({
    method: "POST",
    url: "/api/v1/classes",
    // An object, not a list: the app's AJV coerces a one-item list to its string on purpose.
    payload: { name: "c", ...base, egress: { mode: "allow", cidrs: ["10.0.0.0/8"] } },
  });
  assert.equal(wrongType.statusCode, 400);
  assert.equal(wrongType.json().code, "INVALID_ARGUMENT");
  assert.equal(await getClass(h!.store.db, "c"), undefined);
});

test("the environment keeps the policy it was created with in its own row", async () => {
  const a = await setup();
  await a.inject({ method: "POST", url: "/api/v1/classes", payload: { name: "c", ...base, egress: "none" } });
  await a.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "e", className: "c" } });
  const row = await getEnvByName(h!.store.db, "e");
  assert.equal(row?.egress, '{"mode":"none"}');
  // Restarting reads the row, not the class: stop and start again still carry "none".
  await a.inject({ method: "POST", url: "/api/v1/environments/e/stop", payload: {} });
  const started = await a.inject({ method: "POST", url: "/api/v1/environments/e/start" });
  assert.equal(started.statusCode, 200, started.body);
  const last = h!.runner.callsOf("ensureRunning").at(-1)![0] as RunnerEnvSpec;
  assert.deepEqual(last.egress, { mode: "none" });
});

test("migration 002 applies on a database made by 001 that holds data", async () => {
  const tmp = tempDir();
  try {
    mkdirSync(path.dirname(storeFile(tmp.dir)), { recursive: true, mode: 0o700 });
    const db = new DatabaseSync(storeFile(tmp.dir));
    assert.deepEqual(
      migrate(
        db,
        MIGRATIONS.filter((m) => m.version === 1),
      ),
      [1],
    );
    db.exec(`insert into classes (name, cpus, memory_bytes, disk_bytes, pids, runtime, max_cpus,
      max_memory_bytes, max_disk_bytes, builtin, created_at)
      values ('old', 1, 1073741824, 2147483648, 100, 'crun', 2, 1073741824, 2147483648, 0, 't')`);
    db.exec(`insert into environments (id, name, class_name, image, runtime, cpus, memory_bytes,
      disk_bytes, pids, slot, desired, state, created_at, updated_at)
      values ('aaaaaaaaaaaa', 'legacy', 'old', 'img', 'crun', 1, 1073741824, 2147483648, 100, 0,
      'running', 'running', 't', 't')`);
    db.close();

    const store = openStore(tmp.dir); // applies 002
    try {
      const versions = store.sqlite.prepare("select version from schema_migrations order by version").all();
      // Every later migration applies too (004 registry credentials, ...).
      assert.deepEqual(
        versions.map((v) => v["version"]),
        MIGRATIONS.map((m) => m.version),
      );
      const cls = toClassSpec((await getClass(store.db, "old"))!);
      assert.deepEqual(cls.egress, { mode: "all" });
      assert.equal(cls.runtime, "crun", "existing data is kept");
      assert.deepEqual(toClassSpec((await getClass(store.db, "default"))!).egress, { mode: "all" });
      const env = toEnvironment((await getEnvByName(store.db, "legacy"))!);
      assert.deepEqual(env.spec.egress, { mode: "all" });
      assert.equal(env.spec.resources.pids, 100);
      // The column refuses what is not JSON, so a bad write cannot become a silent "all".
      assert.throws(
        () => store.sqlite.exec("update classes set egress = 'nope' where name = 'old'"),
        /CHECK/,
      );
    } finally {
      await store.close();
    }
  } finally {
    tmp.cleanup();
  }
});

test("GET /api/v1/dns/stats answers the runner's DnsStats", async () => {
  const a = await setup();
  const res = await a.inject({ method: "GET", url: "/api/v1/dns/stats" });
  assert.equal(res.statusCode, 200, res.body);
  const { FAKE_DNS_STATS } = await import("@warren/testing/fake-runner");
  assert.deepEqual(res.json(), FAKE_DNS_STATS);
  assert.equal(h!.runner.callsOf("dnsStats").length, 1);
  h!.runner.failNext("dnsStats", new Error("resolver crashed"));
  const failed = await a.inject({ method: "GET", url: "/api/v1/dns/stats" });
  assert.equal(failed.statusCode, 500);
  assert.equal(failed.json().code, "INTERNAL");
});
