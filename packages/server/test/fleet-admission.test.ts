// Admission across runners on SQLite: the create path places on a runner (scheduler/), then
// admits with the runner's capacity row and slot free list (store/queries/fleet-admission.ts).
// Two in-process fake runners stand for two hosts of one organisation.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { type ErrorCode, isWarrenError, type RunnerInfo } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { ROOT, tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { silentLogger } from "../src/logger.ts";
import { snapshotOf } from "../src/scheduler/embedded-view.ts";
import type { FleetView } from "../src/scheduler/fleet-view.ts";
import type { RunnerSnapshot } from "../src/scheduler/types.ts";
import { createChangeFeed } from "../src/services/changes.ts";
import { createEnvironmentService } from "../src/services/environments.ts";
import { openStore, type Store } from "../src/store/db.ts";
import { deleteEnv } from "../src/store/queries/envs.ts";
import { registerRunnerCapacity, runnerCapacity } from "../src/store/queries/fleet-admission.ts";

const GiB = 1024 ** 3;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Host {
  id: string;
  runner: FakeRunner;
  /** Live usage reported (placement packs by it). */
  usage?: RunnerInfo["usage"];
}

function host(
  id: string,
  o: { slots?: number; cpus?: number; memoryGiB?: number; labels?: Record<string, string> } = {},
): Host {
  const runner = new FakeRunner();
  runner.slots = o.slots ?? 64;
  runner.cpus = o.cpus ?? 8;
  runner.memoryBytes = (o.memoryGiB ?? 64) * GiB;
  runner.name = id;
  if (o.labels) runner.labels = o.labels;
  return { id, runner };
}

const infoOf = async (h: Host): Promise<RunnerInfo> => ({
  ...(await h.runner.info()),
  id: h.id,
  ...(h.usage ? { usage: h.usage } : {}),
});

/** The store's view of each host, read at every placement (or once, with `frozen`). */
function world(hosts: Host[], o: { frozen?: boolean } = {}) {
  const tmp = tempDir("warren-fleet-admission-");
  const store: Store = openStore(tmp.dir);
  cleanups.push(async () => {
    await store.close();
    tmp.cleanup();
  });
  let frozen: RunnerSnapshot[] | undefined;
  const read = async () =>
    Promise.all(
      hosts.map(async (h) => {
        const info = await infoOf(h);
        await registerRunnerCapacity(store.db, { runnerId: h.id, orgId: "org_root", info });
        const snap = snapshotOf(info, await runnerCapacity(store.db, h.id), "shared");
        const owners = await store.db
          .selectFrom("environments")
          .select(["owner_id", (eb) => eb.fn.countAll<number>().as("n")])
          .where("runner_id", "=", h.id)
          .groupBy("owner_id")
          .execute();
        return { ...snap, ownerEnvCounts: Object.fromEntries(owners.map((r) => [r.owner_id, Number(r.n)])) };
      }),
    );
  const fleet: FleetView = {
    async snapshots() {
      if (!o.frozen) return read();
      frozen ??= await read();
      return frozen;
    },
    admitted() {},
  };
  const byId = new Map(hosts.map((h) => [h.id, h.runner]));
  const envs = createEnvironmentService({
    db: store.db,
    runner: hosts[0]!.runner,
    clock: systemClock,
    logger: silentLogger,
    changes: createChangeFeed(),
    enqueue: () => {},
    defaultRuntime: "runc",
    fleet,
    runnerById: (id) => byId.get(id)!,
  });
  const create = (name: string, extra: Record<string, unknown> = {}) =>
    envs.create(ROOT, { name, ...extra }, { wait: false });
  const runnerOf = async (name: string) =>
    await store.db
      .selectFrom("environments")
      .select(["runner_id", "slot", "placement"])
      .where("name", "=", name)
      .executeTakeFirstOrThrow();
  return { store, envs, create, runnerOf, fleet };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWarrenError(err), `expected a WarrenError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

/** alloc_* equal the sums over the runner's environment rows, and each slot is held by its row. */
async function assertExact(store: Store, runnerId: string): Promise<void> {
  const rows = await store.db
    .selectFrom("environments")
    .selectAll()
    .where("runner_id", "=", runnerId)
    .execute();
  const cap = (await runnerCapacity(store.db, runnerId))!;
  assert.deepEqual(cap.alloc, {
    cpus: rows.reduce((s, r) => s + r.cpus, 0),
    memoryBytes: rows.reduce((s, r) => s + r.memory_bytes, 0),
    diskBytes: rows.reduce((s, r) => s + r.disk_bytes, 0),
    envs: rows.length,
  });
  const taken = await store.db
    .selectFrom("runner_slots")
    .select(["slot", "env_id"])
    .where("runner_id", "=", runnerId)
    .where("env_id", "is not", null)
    .orderBy("slot")
    .execute();
  assert.deepEqual(
    taken.map((t) => [t.slot, t.env_id]),
    rows.map((r) => [r.slot, r.id]).sort((x, y) => Number(x[0]) - Number(y[0])),
  );
}

test("an owner's environments spread over runners, and each records where and why", async () => {
  const w = world([host("ra"), host("rb")]);
  await w.create("one");
  await w.create("two");
  const [one, two] = [await w.runnerOf("one"), await w.runnerOf("two")];
  assert.notEqual(one.runner_id, two.runner_id, "the second goes where the owner has none");
  assert.match(String(two.placement), /^placed on r[ab]: .*no other environment of this owner/);
  await assertExact(w.store, "ra");
  await assertExact(w.store, "rb");
});

test("memory limits never exceed physical memory x ratio: the runner's reason is named, and the demand recorded", async () => {
  // 6 GiB: two default environments (2 GiB) fit with the 1 GiB free-memory floor, a third does not.
  const w = world([host("solo", { memoryGiB: 6 })]);
  await w.create("m1");
  await w.create("m2");
  await w.create("m3");
  await rejectsWith(
    w.create("m4"),
    "UNSCHEDULABLE",
    /cannot place "m4": no runner can take it: solo memory 6Gi of 6Gi allocated \(ratio 1:1\), needs 2Gi/,
  );
  const demand = await w.store.db.selectFrom("fleet_demand").selectAll().execute();
  assert.equal(demand.length, 1);
  assert.equal(demand[0]!.memory_bytes, 2 * GiB);
  assert.equal((await runnerCapacity(w.store.db, "solo"))!.alloc.memoryBytes, 6 * GiB);
});

test("cpu limits within cores x the class's ratio (default 4:1)", async () => {
  const w = world([host("solo", { cpus: 1 })]);
  await w.create("c1", { cpus: 3 });
  await rejectsWith(
    w.create("c2", { cpus: 2 }),
    "UNSCHEDULABLE",
    /solo cpu 3 of 4 allocated \(ratio 4:1\), needs 2/,
  );
  await w.create("c3", { cpus: 1 });
});

test("a runner that filled up since the snapshot is skipped for the next candidate", async () => {
  const a = host("ra");
  a.usage = { cpuEwmaCores: 6, memoryWorkingSetBytes: 30 * GiB, memoryAvailableBytes: 34 * GiB };
  const w = world([a, host("rb")], { frozen: true });
  await w.fleet.snapshots("org_root", "usr_root");
  // Another replica filled ra meanwhile: its row says so, the frozen snapshot does not.
  await w.store.db
    .updateTable("runner_capacity")
    .set({ memory_bytes: GiB })
    .where("runner_id", "=", "ra")
    .execute();
  await w.create("late");
  assert.equal((await w.runnerOf("late")).runner_id, "rb", "placed on the busier ra first, admitted on rb");
  await assertExact(w.store, "ra");
  await assertExact(w.store, "rb");
});

test("a freed slot is reused on its runner; a full runner is CAPACITY_EXHAUSTED as before", async () => {
  const w = world([host("solo", { slots: 2 })]);
  await w.create("s0");
  await w.create("s1");
  await rejectsWith(w.create("s2"), "CAPACITY_EXHAUSTED", /room for 2 environments and all are taken/);
  await deleteEnv(
    w.store.db,
    (
      await w.store.db
        .selectFrom("environments")
        .select("id")
        .where("name", "=", "s0")
        .executeTakeFirstOrThrow()
    ).id,
  );
  await w.create("s3");
  assert.equal((await w.runnerOf("s3")).slot, 0);
  await assertExact(w.store, "solo");
});

test("a class's required labels choose the runner", async () => {
  const w = world([host("ra", { labels: { zone: "a" } }), host("rb", { labels: { zone: "b" } })]);
  await w.store.db
    .insertInto("classes")
    .values({
      ...(await w.store.db
        .selectFrom("classes")
        .selectAll()
        .where("name", "=", "default")
        .executeTakeFirstOrThrow()),
      name: "zoned",
      builtin: 0,
      required_labels: JSON.stringify({ zone: "b" }),
    })
    .execute();
  for (const n of ["z1", "z2", "z3"]) await w.create(n, { className: "zoned" });
  for (const n of ["z1", "z2", "z3"]) assert.equal((await w.runnerOf(n)).runner_id, "rb");
  await w.store.db
    .updateTable("classes")
    .set({ required_labels: JSON.stringify({ zone: "c" }) })
    .where("name", "=", "zoned")
    .execute();
  await rejectsWith(
    w.create("z4", { className: "zoned" }),
    "UNSCHEDULABLE",
    /ra needs label zone=c \(has zone=a\); rb needs label zone=c/,
  );
});

test("a resize that grows past the runner's room is refused and changes nothing", async () => {
  const w = world([host("solo", { cpus: 2 })]);
  await w.create("grow", { cpus: 4 });
  await w.envs.setResources(ROOT, "grow", { cpus: 8 });
  await rejectsWith(
    w.envs.setResources(ROOT, "grow", { cpus: 9 }),
    "UNSCHEDULABLE",
    /cannot grow "grow" on its runner: cpu limits of 8 of 8/,
  );
  const row = await w.store.db
    .selectFrom("environments")
    .select("cpus")
    .where("name", "=", "grow")
    .executeTakeFirstOrThrow();
  assert.equal(row.cpus, 8);
  await w.envs.setResources(ROOT, "grow", { cpus: 1 });
  await assertExact(w.store, "solo");
});
