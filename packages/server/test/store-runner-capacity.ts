// Part of the shared store suite (store-suite.ts runs it on SQLite and PostgreSQL): from migration
// 016 on, an environment records its runner, and slots and reserved disk are counted per runner.
// Each runner has its own id range and disk, so one runner's environments never use up another's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Db } from "../src/store/db.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import {
  admissionTotals,
  deleteEnv,
  getEnvById,
  insertEnv,
  lowestFreeSlot,
} from "../src/store/queries/envs.ts";
import { moveOrgEnvironments } from "../src/store/queries/runners.ts";
import { envRow, V1_ROWS } from "./store-fixtures.ts";
import { type StoreBackend, type TestDb, withFreshDb } from "./store-suite.ts";

const GiB = 1024 ** 3;
const B = { org_id: "org_b", owner_id: "usr_b" };

async function withStore(backend: StoreBackend, fn: (db: Db, t: TestDb) => Promise<void>) {
  await withFreshDb(backend, true, async (t) => {
    const s = await t.open();
    try {
      await fn(s.db, t);
    } finally {
      await s.close();
    }
  })();
}

const runnerOf = async (db: Db, id: string) => (await getEnvById(db, id))?.runner_id;

export function runnerCapacitySuite(backend: StoreBackend): void {
  describe(`capacity per runner on ${backend.name}`, () => {
    test("slots are unique per runner, and free slots and reserved disk are the runner's own", () =>
      withStore(backend, async (db) => {
        await insertEnv(db, envRow("aaaaaaaaaaaa", { name: "a0", slot: 0, runner_id: "r-a" }));
        await insertEnv(db, envRow("aaaaaaaaaaa1", { name: "a1", slot: 1, runner_id: "r-a" }));
        // The same slot on another runner is another host's uid block: allowed.
        await insertEnv(db, envRow("bbbbbbbbbbbb", { name: "b0", slot: 0, runner_id: "r-b" }), B);
        await assert.rejects(
          insertEnv(db, envRow("cccccccccccc", { name: "c", slot: 1, runner_id: "r-a" })),
          "a slot is taken once per runner",
        );
        await assert.rejects(insertEnv(db, envRow("cccccccccccc", { name: "c", slot: 2, runner_id: "" })));

        assert.deepEqual(await admissionTotals(db, "r-a"), { reserved: 200 * GiB, topSlot: 1 });
        assert.deepEqual(await admissionTotals(db, "r-b"), { reserved: 100 * GiB, topSlot: 0 });
        assert.deepEqual(await admissionTotals(db, "r-new"), { reserved: 0, topSlot: null });
        assert.equal(await lowestFreeSlot(db, "r-a"), 2);
        assert.equal(await lowestFreeSlot(db, "r-b", 2), 1);
        assert.equal(await lowestFreeSlot(db, "r-new", 1), 0, "an empty runner starts at 0");
        assert.equal(await lowestFreeSlot(db, "r-a", 2), 2, "r-a is full; the caller refuses");

        // r-a frees slot 0 while r-b still holds its own slot 0: the gap search sees only r-a's.
        await deleteEnv(db, "aaaaaaaaaaaa");
        assert.equal(await lowestFreeSlot(db, "r-a", 2), 0, "the freed slot is reused on its runner");
        assert.equal(await lowestFreeSlot(db, "r-b", 1), 1, "r-b's slot 0 stays taken");
        await insertEnv(db, envRow("dddddddddddd", { name: "d", slot: 0, runner_id: "r-a" }));
        await insertEnv(db, envRow("eeeeeeeeeeee", { name: "e", slot: 1, runner_id: "r-b" }), B);
        await deleteEnv(db, "eeeeeeeeeeee");
        assert.equal(await lowestFreeSlot(db, "r-a", 3), 2, "a gap above the top on r-a");
        await insertEnv(db, envRow("ffffffffffff", { name: "f", slot: 3, runner_id: "r-a" }));
        assert.equal(await lowestFreeSlot(db, "r-a", 4), 2, "the gap below r-a's top, not r-b's");
        assert.deepEqual(await admissionTotals(db, "r-a"), { reserved: 300 * GiB, topSlot: 3 });
        assert.deepEqual(await admissionTotals(db, "r-b"), { reserved: 100 * GiB, topSlot: 0 });
      }));

    test("an organisation's environments move to the runner that now serves it, disk and all", () =>
      withStore(backend, async (db) => {
        await insertEnv(db, envRow("aaaaaaaaaaaa", { name: "a0", slot: 0, runner_id: "local" }));
        await insertEnv(db, envRow("aaaaaaaaaaa1", { name: "a1", slot: 1, runner_id: "r-old" }));
        await insertEnv(db, envRow("bbbbbbbbbbbb", { name: "b0", slot: 0, runner_id: "r-b" }), B);
        assert.equal(await moveOrgEnvironments(db, "org_default", "r-new"), 2);
        assert.equal(await runnerOf(db, "aaaaaaaaaaaa"), "r-new");
        assert.equal(await runnerOf(db, "aaaaaaaaaaa1"), "r-new");
        assert.equal(await runnerOf(db, "bbbbbbbbbbbb"), "r-b", "another organisation's stay");
        assert.deepEqual(await admissionTotals(db, "r-new"), { reserved: 200 * GiB, topSlot: 1 });
        assert.deepEqual(await admissionTotals(db, "local"), { reserved: 0, topSlot: null });
        assert.deepEqual(await admissionTotals(db, "r-old"), { reserved: 0, topSlot: null });
        assert.deepEqual(await admissionTotals(db, "r-b"), { reserved: 100 * GiB, topSlot: 0 });
        assert.equal(await moveOrgEnvironments(db, "org_default", "r-new"), 0, "nothing left to move");

        // Two runners of one organisation holding the same slot cannot be merged: nothing moves.
        await insertEnv(db, envRow("bbbbbbbbbbb1", { name: "b1", slot: 0, runner_id: "r-b2" }), B);
        await assert.rejects(moveOrgEnvironments(db, "org_b", "r-b"));
        assert.equal(await runnerOf(db, "bbbbbbbbbbb1"), "r-b2");
        assert.deepEqual(await admissionTotals(db, "r-b2"), { reserved: 100 * GiB, topSlot: 0 });
      }));

    test("upgrade to 016 records each environment's runner: its organisation's last seen, else the local one", () =>
      withFreshDb(backend, false, async (t) => {
        await t.migrate(MIGRATIONS.filter((m) => m.version < 16));
        for (const sql of V1_ROWS) await t.exec(sql); // org_default's `legacy`, slot 0, 5 GiB
        await t.exec(`insert into orgs (id, name, created_at) values ('org_b', 'b', 't')`);
        for (const [id, seen] of [
          ["tok_older", "2026-01-01T00:00:00.000Z"],
          ["tok_newer", "2026-02-01T00:00:00.000Z"],
        ]) {
          await t.exec(`insert into runners (id, org_id, hostname, info, replica, seen_at)
            values ('${id}', 'org_b', 'h', '{}', null, '${seen}')`);
        }
        await t.exec(`insert into environments (id, name, class_name, image, runtime, cpus, memory_bytes,
          disk_bytes, pids, slot, desired, state, created_at, updated_at, org_id)
          values ('bbbbbbbbbbbb', 'b-env', 'old', 'img', 'crun', 1, 1073741824, ${2 * GiB}, 100, 1,
          'running', 'running', 't', 't', 'org_b')`);
        const s = await t.open();
        try {
          assert.equal(await runnerOf(s.db, "aaaaaaaaaaaa"), "local");
          assert.equal(await runnerOf(s.db, "bbbbbbbbbbbb"), "tok_newer");
          assert.deepEqual(await admissionTotals(s.db, "local"), { reserved: 5 * GiB, topSlot: 0 });
          assert.deepEqual(await admissionTotals(s.db, "tok_newer"), { reserved: 2 * GiB, topSlot: 1 });
          assert.deepEqual(await admissionTotals(s.db, "tok_older"), { reserved: 0, topSlot: null });
          // org_b's runner starts at slot 0 although the embedded runner holds 0.
          assert.equal(await lowestFreeSlot(s.db, "tok_newer", 2), 0);
          await insertEnv(s.db, envRow("cccccccccccc", { slot: 0, runner_id: "tok_newer" }), B);
          assert.deepEqual(await admissionTotals(s.db, "tok_newer"), { reserved: 102 * GiB, topSlot: 1 });
          // The rebuilt table kept its other constraints.
          await assert.rejects(insertEnv(s.db, envRow("dddddddddddd", { name: "legacy", slot: 5 })));
          await assert.rejects(t.exec("update environments set egress = 'nope' where id = 'aaaaaaaaaaaa'"));
          await assert.rejects(insertEnv(s.db, envRow("dddddddddddd", { slot: 6, project: "" })));
        } finally {
          await s.close();
        }
      })());
  });
}
