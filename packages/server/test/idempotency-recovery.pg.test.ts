// Idempotency claims on PostgreSQL, where replicas share the store: a replica's claim stays its own
// while it renews the lease (its request is still running), and a replica that died (no renewals)
// loses it once the lease runs out, so the retry on another replica runs the request.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { IDEMPOTENCY_LEASE_MS } from "../src/http/idempotency.ts";
import { openStoreUrl, type PgStore } from "../src/store/pg-store.ts";
import { FakeClock } from "./fake-clock.ts";
import { instance, post } from "./idempotency-recovery.ts";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

async function leaseOf(store: PgStore, key: string): Promise<number> {
  const r = await store.db
    .selectFrom("idempotency_keys")
    .select("lease_until")
    .where("key", "=", key)
    .executeTakeFirstOrThrow();
  return Date.parse(r.lease_until ?? "");
}

async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a live replica's claim is renewed and kept; a dead replica's is taken over after its lease", async () => {
  const name = await cluster!.createDatabase({ migrated: true });
  const store = await openStoreUrl(cluster!.url(name));
  cleanups.push(() => cluster!.dropDatabase(name));
  cleanups.push(() => store.close());
  // One clock per replica, moved together; the dead replica's stops (its timers never fire again).
  const clockA = new FakeClock();
  const clockB = new FakeClock();
  const both = async (ms: number) => {
    await clockA.advance(ms);
    await clockB.advance(ms);
  };
  const runs: string[] = [];
  const a = await instance(store.db, "srv_a", clockA, runs);
  const b = await instance(store.db, "srv_b", clockB, runs);
  cleanups.push(() => b.close());
  const t0 = clockA.now();

  const held = a.holdNext();
  const cut = post(a, "k");
  await held.entered;
  assert.equal(await leaseOf(store, "k"), t0 + IDEMPOTENCY_LEASE_MS);
  assert.equal((await post(b, "k")).json().code, "IDEMPOTENCY_CONFLICT", "A is alive: B refuses");

  // A keeps renewing while its request runs; past the first lease, B still refuses. A renews every
  // quarter lease, and each renewal is a database round trip that may outlast advance()'s own
  // settling: step one interval at a time and let each renewal land before the next.
  const interval = IDEMPOTENCY_LEASE_MS / 4;
  for (let moved = 0; moved < IDEMPOTENCY_LEASE_MS + 30_000; moved += interval) {
    await both(interval);
    const renewed = clockA.now() + IDEMPOTENCY_LEASE_MS;
    await until("A's renewal", async () => (await leaseOf(store, "k")) === renewed);
  }
  const stillA = await post(b, "k");
  assert.equal(stillA.statusCode, 409, stillA.body);
  assert.equal(stillA.json().code, "IDEMPOTENCY_CONFLICT");

  // A dies: no more renewals. Within the lease B still refuses; after it, B takes the claim over.
  await clockB.advance(IDEMPOTENCY_LEASE_MS - 1000);
  assert.equal((await post(b, "k")).statusCode, 409);
  await clockB.advance(2000);
  const retry = await post(b, "k");
  assert.equal(retry.statusCode, 201, retry.body);
  assert.equal(retry.json().by, "srv_b");
  assert.equal((await post(b, "k")).headers["idempotent-replayed"], "true");

  // The old holder finishing late leaves B's record alone.
  held.release();
  await cut;
  await a.close();
  assert.equal((await post(b, "k")).json().by, "srv_b");
  assert.deepEqual(runs, ["srv_b", "srv_a"]);
});
