// An Idempotency-Key claimed by a request that a crash cut off does not block its retries for the
// 24 hours a key lives: on SQLite (one daemon per store) a restarted daemon, being a new instance,
// takes the dead one's claim over at once. The instance still running a request keeps its claim.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { afterEach, test } from "node:test";
import { tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { claimIsAbandoned, IDEMPOTENCY_LEASE_MS, PROCESS_INSTANCE } from "../src/http/idempotency.ts";
import { openStore, type Store } from "../src/store/db.ts";
import type { IdempotencyRow } from "../src/store/queries/idempotency.ts";
import { type Instance, instance, post } from "./idempotency-recovery.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sqlite(): Store {
  const tmp = tempDir();
  const store = openStore(tmp.dir);
  cleanups.push(tmp.cleanup);
  cleanups.push(() => store.close());
  return store;
}

async function start(store: Store, id: string, runs: string[]): Promise<Instance> {
  const i = await instance(store.db, id, systemClock, runs);
  cleanups.push(() => i.close());
  return i;
}

const T0 = Date.parse("2025-01-01T00:00:00Z");
const row = (o: Partial<IdempotencyRow>): IdempotencyRow => ({
  principal: "p",
  key: "k",
  method: "POST",
  path: "/things",
  body_hash: "h",
  state: "in_flight",
  status: null,
  response: null,
  created_at: new Date(T0).toISOString(),
  claimed_by: "srv_dead",
  lease_until: new Date(T0 + IDEMPOTENCY_LEASE_MS).toISOString(),
  ...o,
});

test("which claims are abandoned: table", () => {
  const fresh = T0 + 1000;
  const stale = T0 + IDEMPOTENCY_LEASE_MS + 1;
  const cases: [string, IdempotencyRow, boolean, number, boolean][] = [
    ["own claim, single daemon", row({ claimed_by: "me" }), false, stale, false],
    ["own claim, replicas", row({ claimed_by: "me" }), true, stale, false],
    ["another instance, single daemon: it died", row({}), false, fresh, true],
    ["another replica within its lease", row({}), true, fresh, false],
    ["another replica past its lease", row({}), true, stale, true],
    ["a finished request is never taken", row({ state: "done", status: 201 }), false, stale, false],
    [
      "a row from before leases, single daemon",
      row({ claimed_by: null, lease_until: null }),
      false,
      fresh,
      true,
    ],
    [
      "a row from before leases, young, replicas",
      row({ claimed_by: null, lease_until: null }),
      true,
      fresh,
      false,
    ],
    [
      "a row from before leases, old, replicas",
      row({ claimed_by: null, lease_until: null }),
      true,
      stale,
      true,
    ],
  ];
  for (const [name, r, shared, now, want] of cases) {
    assert.equal(claimIsAbandoned(r, "me", shared, now), want, name);
  }
});

test("a restarted daemon takes over the claim of a request the crash cut off; the live holder is refused", async () => {
  const store = sqlite();
  const runs: string[] = [];
  const dead = await start(store, "srv_before_crash", runs);
  const held = dead.holdNext();
  const cut = post(dead, "k1");
  await held.entered;

  // While it runs, its own instance still answers "in progress" (a real duplicate).
  const dup = await post(dead, "k1");
  assert.equal(dup.statusCode, 409, dup.body);
  assert.equal(dup.json().code, "IDEMPOTENCY_CONFLICT");

  // The daemon restarts (a new instance on the same store) and the client retries: it runs.
  const next = await start(store, "srv_after_restart", runs);
  const retry = await post(next, "k1");
  assert.equal(retry.statusCode, 201, retry.body);
  assert.deepEqual(retry.json(), { by: "srv_after_restart", n: 1 });
  const again = await post(next, "k1");
  assert.equal(again.headers["idempotent-replayed"], "true");
  assert.deepEqual(again.json(), { by: "srv_after_restart", n: 1 });
  // A different request under the key is still a mismatch, not a takeover.
  assert.equal((await post(next, "k1", { name: "other" })).json().code, "IDEMPOTENCY_MISMATCH");

  // Had the old holder not died after all, finishing late must not overwrite the new record.
  held.release();
  assert.equal((await cut).statusCode, 201);
  assert.deepEqual((await post(next, "k1")).json(), { by: "srv_after_restart", n: 1 });
  assert.deepEqual(runs, ["srv_after_restart", "srv_before_crash"]);
});

test("a claim from before claims named their instance is recovered too; new claims name this process", async () => {
  const store = sqlite();
  const now = new Date().toISOString();
  await store.db
    .insertInto("idempotency_keys")
    .values({
      principal: "anonymous:127.0.0.1",
      key: "old",
      method: "POST",
      path: "/things",
      // What requestHash() makes of post()'s request.
      body_hash: createHash("sha256").update("POST /things\n").update('{"name":"x"}').digest("hex"),
      state: "in_flight",
      status: null,
      response: null,
      created_at: now,
      claimed_by: null,
      lease_until: null,
    })
    .execute();
  const runs: string[] = [];
  const i = await start(store, PROCESS_INSTANCE, runs);
  const retried = await post(i, "old");
  assert.equal(retried.statusCode, 201, retried.body);
  assert.deepEqual(runs, [PROCESS_INSTANCE]);
  await store.db.deleteFrom("idempotency_keys").execute();

  const held = i.holdNext();
  const first = post(i, "new");
  await held.entered;
  const claim = await store.db.selectFrom("idempotency_keys").selectAll().executeTakeFirstOrThrow();
  assert.equal(claim.claimed_by, PROCESS_INSTANCE);
  assert.ok(claim.lease_until && Date.parse(claim.lease_until) > Date.now());
  held.release();
  assert.equal((await first).statusCode, 201);
  const done = await store.db.selectFrom("idempotency_keys").selectAll().executeTakeFirstOrThrow();
  assert.equal(done.state, "done");
  assert.equal(done.claimed_by, null, "a finished record names no holder");
});
