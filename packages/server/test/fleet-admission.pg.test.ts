// Admission under concurrency across replicas on PostgreSQL: two `warren server` replicas on one
// database, four runners of one organisation spread over them, and hundreds of creates arriving
// at both replicas at once. Placement reads snapshots that lag (each replica's own cache); the
// conditional capacity update and the SKIP LOCKED slot claim are what keep it exact: no runner
// is admitted past its slots, cores × ratio or memory × ratio, no slot is taken twice, and the
// trigger-kept alloc_* equal the sums of the rows.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import type { Daemon } from "../src/daemon.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { capacityWorld, GiB } from "./capacity-orgs-world.ts";

// The burst here is the point; the per-caller rate limit is not what this test is about.
process.env["WARREN_RATE_LIMIT"] = "0";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.stop();
});

const RUNNERS = 4;
const CREATES = 240;

test("postgresql: hundreds of concurrent creates over two replicas never over-admit a runner", async () => {
  const db = cluster!.url(await cluster!.createDatabase({ migrated: false }));
  // Each runner: 40 slots, 8 cores (32 at 4:1 = 32 environments of 1 cpu), 48 GiB (a 1 GiB
  // floor leaves room for 47 of 1 GiB): CPU is the binding limit at 32, slots at 40 never bind.
  const fleet = Array.from({ length: RUNNERS }, (_, i) => {
    const r = new FakeRunner();
    r.slots = 40;
    r.cpus = 8;
    r.memoryBytes = 48 * GiB;
    r.name = `pool-${i}`;
    return r;
  });
  const w = await capacityWorld({ db, replicas: 2, runnerA: fleet[0]! });
  try {
    const [one, two] = w.servers as [(typeof w.servers)[0], (typeof w.servers)[0]];
    const ids = [w.a.runnerId];
    for (let i = 1; i < RUNNERS; i++)
      ids.push((await w.connect(BOOTSTRAP_ORG_ID, fleet[i]!, i % 2 ? two : one)).runnerId);
    await waitForCapacityRows(w, ids);
    for (const server of w.servers) await untilPlacementSees(server, RUNNERS);

    const t0 = performance.now();
    const replies = await Promise.all(
      Array.from({ length: CREATES }, (_, i) =>
        w.servers[i % 2]!.app.inject({
          method: "POST",
          url: "/api/v1/environments?wait=0",
          payload: { name: `p${i}`, cpus: 1, memory: "1g", disk: "1g" },
        }),
      ),
    );
    console.log(`${CREATES} creates over 2 replicas: ${Math.round(performance.now() - t0)} ms`);
    const codes = new Map<string, number>();
    for (const r of replies) {
      const code = r.statusCode === 201 ? "ok" : String(r.json()["code"] ?? r.statusCode);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    const capacityAll = RUNNERS * 32;
    assert.equal(
      codes.get("ok"),
      capacityAll,
      `every runner fills to its cpu limit: ${JSON.stringify([...codes])}`,
    );
    assert.equal(codes.get("UNSCHEDULABLE"), CREATES - capacityAll, "the rest are refused, naming why");

    const store = one.store.db;
    for (const id of ids) {
      const rows = await store.selectFrom("environments").selectAll().where("runner_id", "=", id).execute();
      const cap = await store
        .selectFrom("runner_capacity")
        .selectAll()
        .where("runner_id", "=", id)
        .executeTakeFirstOrThrow();
      assert.equal(rows.length, 32, `runner ${id} holds exactly what fits`);
      assert.ok(Number(cap.alloc_cpus) <= Number(cap.cpus) * 4, "cpus within cores x 4");
      assert.ok(Number(cap.alloc_memory_bytes) <= Number(cap.memory_bytes), "memory within physical x 1");
      assert.ok(Number(cap.alloc_envs) <= Number(cap.slots), "envs within slots");
      assert.equal(Number(cap.alloc_envs), rows.length);
      assert.equal(
        Number(cap.alloc_cpus),
        rows.reduce((s, r) => s + r.cpus, 0),
      );
      assert.equal(
        Number(cap.alloc_memory_bytes),
        rows.reduce((s, r) => s + Number(r.memory_bytes), 0),
      );
      assert.equal(
        Number(cap.alloc_disk_bytes),
        rows.reduce((s, r) => s + Number(r.disk_bytes), 0),
      );
      const slots = rows.map((r) => r.slot).sort((x, y) => x - y);
      assert.equal(new Set(slots).size, slots.length, "no slot twice on one runner");
      const held = await store
        .selectFrom("runner_slots")
        .select(["slot", "env_id"])
        .where("runner_id", "=", id)
        .where("env_id", "is not", null)
        .execute();
      assert.deepEqual(
        held.map((h) => `${h.slot}:${h.env_id}`).sort(),
        rows.map((r) => `${r.slot}:${r.id}`).sort(),
        "the free list marks exactly the rows' slots",
      );
    }
    const demand = await store
      .selectFrom("fleet_demand")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    assert.equal(Number(demand.n), CREATES - capacityAll, "each refusal is demand for the autoscaler");
  } finally {
    await w.close();
  }
});

/** Each replica's placement view (its fleet cache) lists every runner as connected. */
async function untilPlacementSees(server: Daemon, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const snaps = await server.hub!.fleet.snapshots(BOOTSTRAP_ORG_ID, "usr_root");
    if (snaps.filter((s) => s.connected).length === n) return;
    assert.ok(
      Date.now() < deadline,
      `replica sees ${snaps.map((s) => `${s.name}:${s.connected}`).join(", ")}`,
    );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The hub registers each runner's capacity at attach; creates need every row there. */
async function waitForCapacityRows(
  w: Awaited<ReturnType<typeof capacityWorld>>,
  ids: string[],
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = await w.servers[0]!.store.db.selectFrom("runner_capacity")
      .select("runner_id")
      .where("runner_id", "in", ids)
      .where("slots", ">", 0)
      .execute();
    if (rows.length === ids.length) return;
    assert.ok(Date.now() < deadline, `capacity rows for ${ids.join(", ")} (have ${rows.length})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
