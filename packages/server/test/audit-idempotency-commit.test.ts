// With an Idempotency-Key, an audited request's record is written in the transaction that keeps
// its answer (http/settle-writes.ts): one synced commit instead of two. Should that transaction
// fail because of the audit write, the answer is still kept and sent, as when they were apart.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { AuditService } from "../src/services/audit.ts";
import { type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const records = (action: string) =>
  w!.h.store.db.selectFrom("audit_records").selectAll().where("action", "=", action).execute();
const keyRow = (key: string) =>
  w!.h.store.db.selectFrom("idempotency_keys").selectAll().where("key", "=", key).executeTakeFirst();

/** Spies on how the audit hook writes: inside a transaction (`via`) or on its own. */
function spy(audit: AuditService, fail: (via: unknown) => boolean): { via: unknown[] } {
  const real = audit.record.bind(audit);
  const seen = { via: [] as unknown[] };
  audit.record = async (e, via) => {
    seen.via.push(via);
    if (fail(via)) throw new Error("audit insert failed");
    return real(e, via);
  };
  return seen;
}

test("the audit record rides in the idempotency record's transaction; without a key it is written alone", async () => {
  w = await world();
  const seen = spy(w.audit, () => false);
  const keyed = await w.local.inject({
    method: "POST",
    url: "/api/v1/environments?wait=0",
    headers: { "idempotency-key": "k1" },
    payload: { name: "one" },
  });
  assert.equal(keyed.statusCode, 201, keyed.body);
  assert.equal(seen.via.length, 1);
  assert.notEqual(seen.via[0], undefined, "written through the settle's transaction");
  assert.notEqual(seen.via[0], w.h.store.db);
  assert.equal((await keyRow("k1"))?.state, "done");
  assert.equal((await records("environment.create")).length, 1);

  const plain = await w.local.inject({
    method: "POST",
    url: "/api/v1/environments?wait=0",
    payload: { name: "two" },
  });
  assert.equal(plain.statusCode, 201, plain.body);
  assert.equal(seen.via[1], undefined, "no key: written on its own");
  assert.equal((await records("environment.create")).length, 2);
});

test("an audit write that fails in the shared transaction costs neither the kept answer nor the reply", async () => {
  w = await world();
  const db = w.h.store.db;
  const seen = spy(w.audit, (via) => via !== undefined && via !== db); // in a transaction only
  const req = {
    method: "POST" as const,
    url: "/api/v1/environments?wait=0",
    headers: { "idempotency-key": "k2" },
    payload: { name: "three" },
  };
  const first = await w.local.inject(req);
  assert.equal(first.statusCode, 201, first.body);
  assert.equal(seen.via.length, 2);
  assert.ok(seen.via[0] !== undefined && seen.via[0] !== db, "tried in the transaction first");
  assert.equal(seen.via[1], db, "then alone");
  assert.equal((await records("environment.create")).length, 1, "recorded once, by the retry alone");
  assert.equal((await keyRow("k2"))?.state, "done");
  const replay = await w.local.inject(req);
  assert.equal(replay.headers["idempotent-replayed"], "true");
  assert.equal(replay.json().id, first.json().id);
});
