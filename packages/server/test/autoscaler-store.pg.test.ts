// The autoscaler's store queries on PostgreSQL (SQLite runs them in autoscaler.test.ts): the pool
// lease is held by one replica at a time and passes on once it lapses; a drain cordons a runner
// only while no environment row names it; the pool's runners read with capacity and counts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { type AnyStore, openStoreAt } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { claimPoolLease, drainIfEmpty, forgetRunner, poolRunners } from "../src/store/queries/autoscaler.ts";

let cluster: PgCluster | undefined;
let store: AnyStore | undefined;
let dbName = "";
before(async () => {
  cluster = await startPgCluster();
  dbName = await cluster.createDatabase({ migrated: true });
  store = await openStoreAt(cluster.url(dbName));
});
after(async () => {
  await store?.close();
  if (dbName) await cluster?.dropDatabase(dbName);
  await cluster?.stop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

test("autoscaler on PostgreSQL: one lease holder per pool, taken over only once it lapses", async () => {
  const db = store!.db;
  const lease = (holder: string, now: number) =>
    claimPoolLease(db, { pool: "p", orgId: BOOTSTRAP_ORG_ID, holder, now: at(now), until: at(now + 30) });
  const both = await Promise.all([lease("a", 0), lease("b", 0)]);
  assert.deepEqual(both.filter(Boolean).length, 1, "exactly one replica wins");
  const winner = both[0] ? "a" : "b";
  const loser = winner === "a" ? "b" : "a";
  assert.equal(await lease(winner, 10), true, "the holder renews");
  assert.equal(await lease(loser, 20), false, "the other waits while it is fresh");
  assert.equal(await lease(loser, 41), true, "and takes over once it lapsed");
  assert.equal(await lease(winner, 42), false);
});

test("autoscaler on PostgreSQL: drain only an empty runner; counts and capacity per runner", async () => {
  const db = store!.db;
  const runner = (id: string) => ({
    id,
    org_id: BOOTSTRAP_ORG_ID,
    hostname: id,
    info: "{}",
    image_refs: "[]",
    replica: "r1",
    seen_at: at(0),
    name: id,
  });
  await db
    .insertInto("runners")
    .values([runner("tok_empty"), runner("tok_busy")])
    .execute();
  await db
    .insertInto("runner_capacity")
    .values({ runner_id: "tok_busy", org_id: BOOTSTRAP_ORG_ID, cpus: 4, memory_bytes: 8 * 1024 ** 3 })
    .execute();
  const env = await db.selectFrom("environments").selectAll().executeTakeFirst();
  assert.equal(env, undefined, "a fresh database");
  await db
    .insertInto("environments")
    .values({
      id: "aaaaaaaaaaaa",
      name: "busy-env",
      class_name: "default",
      image: "img",
      runtime: "runc",
      cpus: 1,
      memory_bytes: 1024 ** 3,
      disk_bytes: 1024 ** 3,
      pids: 100,
      slot: 0,
      desired: "stopped",
      state: "stopped",
      conditions: "[]",
      observed: null,
      stop_grace_ms: 0,
      generation: 1,
      runner_id: "tok_busy",
      created_at: at(0),
      updated_at: at(0),
    } as never)
    .execute();
  const runners = await poolRunners(db, BOOTSTRAP_ORG_ID);
  const busy = runners.find((r) => r.id === "tok_busy");
  assert.deepEqual(busy?.allocated, { cpus: 1, memoryBytes: 1024 ** 3 });
  assert.equal(busy?.envCount, 1);
  assert.equal(busy?.connected, true);
  assert.equal(runners.find((r) => r.id === "tok_empty")?.envCount, 0);
  assert.equal(await drainIfEmpty(db, "tok_busy"), false, "a stopped environment's runner is not drained");
  assert.equal(await drainIfEmpty(db, "tok_empty"), true);
  assert.equal(await drainIfEmpty(db, "tok_empty"), false, "only once");
  assert.equal(await forgetRunner(db, "tok_busy"), false);
  assert.equal(await forgetRunner(db, "tok_empty"), true);
  assert.deepEqual(
    (await poolRunners(db, BOOTSTRAP_ORG_ID)).map((r) => r.id),
    ["tok_busy"],
  );
});
