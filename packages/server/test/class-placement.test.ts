// A class's placement options (POST /api/v1/classes: requiredLabels, cpuOvercommit,
// memoryOvercommit): checked with messages that name the rule or the bounds, stored, listed, and
// what placement then obeys: environments of a class that requires zone=b land only on the runner
// labelled zone=b, and its memory overcommit lets that runner admit past its physical memory.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { type ClassSpec, connectRunner } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { mintRunnerToken, startTlsServer, type TlsServer } from "@warren/testing/tls-server";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const GiB = 1024 ** 3;

async function attach(d: TlsServer, name: string, labels: Record<string, string>): Promise<FakeRunner> {
  const r = new FakeRunner();
  r.name = name;
  r.labels = labels;
  r.memoryBytes = 4 * GiB;
  const c = await connectRunner(
    { url: d.url, fingerprint: d.fingerprint, token: (await mintRunnerToken(d)).token },
    r,
  );
  cleanups.push(() => c.close());
  await c.ready;
  return r;
}

test("class placement options: validated with their bounds, stored, listed", async () => {
  const d = await startTlsServer(cleanups);
  const post = (payload: Record<string, unknown>) =>
    d.app.inject({ method: "POST", url: "/api/v1/classes", payload });
  const base = { name: "zb", cpus: 1, memory: "256m", disk: "1g" };
  for (const [extra, message] of [
    [{ memoryOvercommit: 2 }, /memory overcommit 2 is out of bounds: use a number from 1 to 1\.5/],
    [{ memoryOvercommit: 0.5 }, /memory overcommit 0\.5 is out of bounds/],
    [{ cpuOvercommit: 65 }, /cpu overcommit 65 is out of bounds: use a number from 1 to 64/],
    [{ cpuOvercommit: 0 }, /cpu overcommit 0 is out of bounds/],
    [{ requiredLabels: { Zone: "b" } }, /required label "Zone=b" is not KEY=VALUE/],
    [{ requiredLabels: { zone: "b c" } }, /required label "zone=b c" is not KEY=VALUE/],
    [{ requiredLabels: { zone: "" } }, /required label "zone=" is not KEY=VALUE/],
  ] as const) {
    const r = await post({ ...base, ...extra });
    assert.equal(r.statusCode, 400, `${JSON.stringify(extra)}: ${r.body}`);
    assert.equal(r.json().code, "INVALID_ARGUMENT");
    assert.match(r.json().message, message);
  }
  const made = await post({
    ...base,
    requiredLabels: { zone: "b", "example.com/tier": "gold" },
    cpuOvercommit: 2,
    memoryOvercommit: 1.5,
  });
  assert.equal(made.statusCode, 201, made.body);
  const want = {
    requiredLabels: { zone: "b", "example.com/tier": "gold" },
    cpuOvercommit: 2,
    memoryOvercommit: 1.5,
  };
  const pick = (c: ClassSpec) => ({
    requiredLabels: c.requiredLabels,
    cpuOvercommit: c.cpuOvercommit,
    memoryOvercommit: c.memoryOvercommit,
  });
  assert.deepEqual(pick(made.json()), want);
  const list = (await d.app.inject({ method: "GET", url: "/api/v1/classes" })).json().items as ClassSpec[];
  assert.deepEqual(
    list.map((c) => c.name),
    ["default", "zb"],
    "the refused requests stored nothing",
  );
  assert.deepEqual(pick(list[1]!), want);
  assert.deepEqual(
    pick(list[0]!),
    { requiredLabels: {}, cpuOvercommit: 4, memoryOvercommit: 1 },
    "the defaults",
  );
  const row = await d.store.db
    .selectFrom("classes")
    .select(["required_labels", "cpu_overcommit", "memory_overcommit"])
    .where("name", "=", "zb")
    .executeTakeFirstOrThrow();
  assert.deepEqual(JSON.parse(row.required_labels), want.requiredLabels);
  assert.deepEqual([Number(row.cpu_overcommit), Number(row.memory_overcommit)], [2, 1.5]);
});

test("placement obeys a class's required labels and memory overcommit", async () => {
  const d = await startTlsServer(cleanups);
  const a = await attach(d, "ra", { zone: "a" });
  const b = await attach(d, "rb", { zone: "b" });
  const cls = (payload: Record<string, unknown>) =>
    d.app.inject({ method: "POST", url: "/api/v1/classes", payload: { cpus: 1, disk: "1g", ...payload } });
  // 2.5 GiB each on a 4 GiB runner: two fit only by the 1.5 memory ratio (6 GiB), a third not.
  assert.equal(
    (await cls({ name: "big-b", memory: "2560m", requiredLabels: { zone: "b" }, memoryOvercommit: 1.5 }))
      .statusCode,
    201,
  );
  assert.equal((await cls({ name: "on-c", memory: "256m", requiredLabels: { zone: "c" } })).statusCode, 201);
  const create = (name: string, className: string) =>
    d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name, className } });

  for (const name of ["b1", "b2"]) {
    const r = await create(name, "big-b");
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().runner.name, "rb", `${name} on the runner labelled zone=b`);
  }
  assert.equal(b.envs.size, 2);
  assert.equal(a.envs.size, 0, "never on the runner labelled zone=a, though it had room");
  const third = await create("b3", "big-b");
  assert.equal(third.statusCode, 503, third.body);
  assert.match(third.json().message, /rb memory 5Gi of 6Gi allocated \(ratio 1\.5:1\)/);
  assert.match(third.json().message, /ra needs label zone=b \(has zone=a\)/);

  const none = await create("c1", "on-c");
  assert.equal(none.statusCode, 503, none.body);
  assert.equal(none.json().code, "UNSCHEDULABLE");
  assert.match(none.json().message, /needs label zone=c/);
});
