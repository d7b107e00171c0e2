// One store suite, run against every backend: SQLite in store.test.ts (unit tier) and PostgreSQL
// in store.pg.test.ts (pg tier). The same migrations and the same typed queries must behave the
// same on both, so every test here talks to the store only through those, plus plain SQL that
// both databases accept.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Db } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { MIGRATIONS, type Migration } from "../src/store/migrations/index.ts";
import { deleteClass, getClass, listClasses, toClassSpec } from "../src/store/queries/classes.ts";
import { listEnvPage } from "../src/store/queries/env-pages.ts";
import { restoreEnvResources, updateEnvResources } from "../src/store/queries/env-resources.ts";
import {
  admissionTotals,
  countEnvsOfClass,
  deleteEnv,
  findEnv,
  getEnvById,
  getEnvByName,
  insertEnv,
  listEnvs,
  lowestFreeSlot,
  setDesired,
  setState,
  toEnvironment,
} from "../src/store/queries/envs.ts";
import { insertEvent, listEvents } from "../src/store/queries/events.ts";
import {
  deleteRegistryCredential,
  getRegistryCredential,
  listRegistryCredentials,
  upsertRegistryCredential,
} from "../src/store/queries/registry-credentials.ts";
import { cpuBurstSuite } from "./store-cpu-burst.ts";
import { envRow, V1_ROWS } from "./store-fixtures.ts";
import { orgNamesSuite } from "./store-org-names.ts";
import { orgRegistrySuite } from "./store-org-registry.ts";
import { runnerCapacitySuite } from "./store-runner-capacity.ts";

const GiB = 1024 ** 3;

/** One database on a backend. */
export interface TestDb {
  /** Opens it as the daemon does (applying any missing migrations). */
  open(): Promise<{ db: Db; close(): Promise<void> }>;
  /** Applies `migrations` the way opening does, without opening a store. */
  migrate(migrations: readonly Migration[]): Promise<number[]>;
  exec(sql: string): Promise<void>;
  query(sql: string): Promise<Record<string, unknown>[]>;
  cleanup(): Promise<void>;
}

export interface StoreBackend {
  name: string;
  /** A new database; `migrated` brings it to the latest schema first. */
  fresh(opts: { migrated: boolean }): Promise<TestDb>;
}

/** A test body on its own database, dropped afterwards, pass or fail. */
export const withFreshDb =
  (backend: StoreBackend, migrated: boolean, fn: (t: TestDb) => Promise<void>) => async () => {
    const t = await backend.fresh({ migrated });
    try {
      await fn(t);
    } finally {
      await t.cleanup();
    }
  };

export function storeSuite(backend: StoreBackend): void {
  const withDb = (migrated: boolean, fn: (t: TestDb) => Promise<void>) => withFreshDb(backend, migrated, fn);
  const withStore = (fn: (db: Db, t: TestDb) => Promise<void>) =>
    withDb(true, async (t) => {
      const s = await t.open();
      try {
        await fn(s.db, t);
      } finally {
        await s.close();
      }
    });
  const versions = async (t: TestDb) =>
    (await t.query("select version from schema_migrations order by version")).map((r) =>
      Number(r["version"]),
    );

  describe(`store on ${backend.name}`, () => {
    test(
      "migrations apply on a fresh db and seed the default class",
      withDb(false, async (t) => {
        const s = await t.open();
        try {
          assert.deepEqual(toClassSpec((await getClass(s.db, "default"))!), {
            name: "default",
            cpus: 2,
            memoryBytes: 2 * GiB,
            diskBytes: 10 * GiB,
            pids: 4096,
            maxCpus: 16,
            maxMemoryBytes: 16 * GiB,
            maxDiskBytes: 100 * GiB,
            builtin: true,
            egress: { mode: "all" },
            requiredLabels: {},
            cpuOvercommit: 4,
            memoryOvercommit: 1,
            diskOvercommit: 4,
            ioLimits: {},
            cpuBurst: null,
          });
        } finally {
          await s.close();
        }
        assert.deepEqual(
          await versions(t),
          MIGRATIONS.map((m) => m.version),
        );
      }),
    );

    test(
      "re-opening is idempotent: nothing re-applied, data kept",
      withDb(false, async (t) => {
        const first = await t.open();
        await first.db.updateTable("classes").set({ pids: 1234 }).where("name", "=", "default").execute();
        await first.close();
        const second = await t.open();
        try {
          assert.equal((await getClass(second.db, "default"))?.pids, 1234);
        } finally {
          await second.close();
        }
        assert.deepEqual(await t.migrate(MIGRATIONS), []);
        assert.deepEqual(
          await versions(t),
          MIGRATIONS.map((m) => m.version),
        );
      }),
    );

    test(
      "a database from a newer warren is refused",
      withDb(true, async (t) => {
        await t.exec("insert into schema_migrations values (999, 'future', 'x')");
        await assert.rejects(t.open(), /schema version 999.*upgrade warren/);
      }),
    );

    test(
      "a failing migration rolls back whole",
      withDb(true, async (t) => {
        const latest = MIGRATIONS.at(-1)!.version;
        const sql = "create table t (x integer); insert into nope values (1);";
        const bad = [...MIGRATIONS, { version: latest + 1, name: "bad", sql, pg: sql }];
        await assert.rejects(t.migrate(bad), new RegExp(`migration ${latest + 1}_bad`));
        const rows = await t.query("select max(version) as v from schema_migrations");
        assert.equal(Number(rows[0]?.["v"]), latest);
        await t.exec("create table t (x integer)"); // would fail had the first half stayed
      }),
    );

    // DESIGN.md: an upgrade from the previous schema version with data in it is tested. Every
    // earlier version, not only N-1: a user may skip releases.
    for (const m of MIGRATIONS.slice(1)) {
      const before = MIGRATIONS.filter((x) => x.version < m.version);
      test(
        `upgrade from version ${before.at(-1)!.version} with data keeps it`,
        withDb(false, async (t) => {
          await t.migrate(before);
          for (const sql of V1_ROWS) await t.exec(sql);
          const s = await t.open(); // applies the rest
          try {
            const cls = toClassSpec((await getClass(s.db, "old"))!);
            assert.equal(cls.runtime, "crun");
            assert.equal(cls.diskBytes, 5 * GiB);
            assert.deepEqual(cls.egress, { mode: "all" });
            const env = toEnvironment((await getEnvByName(s.db, "legacy"))!);
            assert.deepEqual(env.spec.egress, { mode: "all" });
            assert.equal(env.spec.project, undefined); // no project before migration 012
            // The running total (migrations 013, 016) starts from the rows already there, which
            // belong to the embedded daemon's runner when no runner was ever seen.
            assert.equal((await admissionTotals(s.db, "local")).reserved, 5 * GiB);
            assert.deepEqual(env.spec.resources, {
              cpus: 1,
              memoryBytes: GiB,
              diskBytes: 5 * GiB,
              pids: 100,
            });
            assert.deepEqual(
              (await listEvents(s.db, "aaaaaaaaaaaa")).map((e) => e.message),
              ["created"],
            );
            // A new event after the upgrade continues the id sequence.
            await insertEvent(s.db, "aaaaaaaaaaaa", "t2", "upgraded");
            const ids = (await listEvents(s.db, "aaaaaaaaaaaa")).map((e) => e.id);
            assert.equal(ids.length, 2);
            assert.ok(ids[1]! > ids[0]!);
          } finally {
            await s.close();
          }
          assert.deepEqual(
            await versions(t),
            MIGRATIONS.map((x) => x.version),
          );
        }),
      );
    }

    test(
      "lowestFreeSlot takes the top while there is room, then reuses gaps",
      withStore(async (db) => {
        assert.equal(await lowestFreeSlot(db, "local"), 0);
        for (const [id, slot] of [
          ["aaaaaaaaaaaa", 0],
          ["bbbbbbbbbbbb", 1],
          ["cccccccccccc", 3],
        ] as const) {
          await insertEnv(db, envRow(id, { slot }));
        }
        assert.equal(await lowestFreeSlot(db, "local"), 4, "room above the highest: one index probe");
        assert.equal(await lowestFreeSlot(db, "local", 5), 4);
        assert.equal(await lowestFreeSlot(db, "local", 4), 2, "the range is full at the top: the gap");
        await insertEnv(db, envRow("dddddddddddd", { slot: 2 }));
        assert.equal(await lowestFreeSlot(db, "local", 4), 4, "no gap left: at capacity, the caller refuses");
      }),
    );

    test(
      "environment queries round-trip numbers, order and generations",
      withStore(async (db) => {
        // Same created_at: the name decides, in byte order ("B" before "a") on both databases.
        await insertEnv(db, envRow("aaaaaaaaaaaa", { name: "a", slot: 0 }));
        await insertEnv(db, envRow("bbbbbbbbbbbb", { name: "B", slot: 1, egress: '{"mode":"none"}' }));
        const rows = await listEnvs(db);
        assert.deepEqual(
          rows.map((r) => r.name),
          ["B", "a"],
        );
        const b = rows[0]!;
        // Values come back as the same JS types from both (bigint columns as numbers).
        assert.equal(b.memory_bytes, 3 * GiB);
        assert.equal(b.cpus, 1.5);
        assert.equal(b.generation, 1);
        assert.equal(b.stop_grace_ms, 10_000);
        assert.equal(b.observed, null);
        assert.deepEqual(toEnvironment(b).spec.egress, { mode: "none" });
        assert.deepEqual(await admissionTotals(db, "local"), { reserved: 200 * GiB, topSlot: 1 });
        assert.equal((await findEnv(db, "bbbbbbbbbbbb"))?.name, "B");
        // The total follows deletes (triggers of migration 013).
        await insertEnv(db, envRow("cccccccccccc", { name: "c", slot: 2 }));
        assert.equal((await admissionTotals(db, "local")).reserved, 300 * GiB);
        await deleteEnv(db, "cccccccccccc");
        assert.equal((await admissionTotals(db, "local")).reserved, 200 * GiB);
        assert.deepEqual((await countEnvsOfClass(db, "default")).sort(), ["B", "a"]);

        await setDesired(db, "aaaaaaaaaaaa", { desired: "stopped", stopGraceMs: 5, now: "n1" });
        const a = (await getEnvById(db, "aaaaaaaaaaaa"))!;
        assert.deepEqual([a.desired, a.generation, a.stop_grace_ms, a.updated_at], ["stopped", 2, 5, "n1"]);
        assert.equal(await setState(db, a.id, { state: "stopping", now: "n2", ifGeneration: 1 }), false);
        assert.equal(
          await setState(db, a.id, {
            state: "stopped",
            now: "n2",
            ifGeneration: 2,
            conditions: [{ type: "Ready", status: "False", reason: "Stopped", message: "", at: "n2" }],
          }),
          true,
        );
        assert.equal((await getEnvById(db, a.id))?.state, "stopped");

        const updated = await updateEnvResources(db, a.id, { cpus: 4, memoryBytes: 8 * GiB, pids: 9 }, "n3");
        assert.deepEqual([updated?.cpus, updated?.memory_bytes, updated?.generation], [4, 8 * GiB, 3]);
        assert.equal(
          await restoreEnvResources(db, a.id, { cpus: 1, memoryBytes: GiB, pids: 1 }, 2, "n4"),
          false,
        );
        assert.equal(
          await restoreEnvResources(db, a.id, { cpus: 1, memoryBytes: GiB, pids: 1 }, 3, "n4"),
          true,
        );
        assert.equal((await getEnvById(db, a.id))?.memory_bytes, GiB);
      }),
    );

    test(
      "classes, events and registry credentials round-trip",
      withStore(async (db) => {
        const cls = (await getClass(db, "default"))!;
        await db
          .insertInto("classes")
          .values({ ...cls, name: "big", builtin: 0, memory_bytes: 64 * GiB })
          .execute();
        assert.deepEqual(
          (await listClasses(db)).map((c) => [c.name, c.builtin]),
          [
            ["default", 1],
            ["big", 0],
          ],
        );
        await deleteClass(db, "big");
        assert.equal(await getClass(db, "big"), undefined);

        for (const msg of ["one", "two", "three"]) await insertEvent(db, "aaaaaaaaaaaa", "t", msg);
        const events = await listEvents(db, "aaaaaaaaaaaa");
        assert.deepEqual(
          events.map((e) => e.message),
          ["one", "two", "three"],
        );
        assert.ok(events.every((e) => typeof e.id === "number"));

        // Logins are per organisation (migration 010): the same host twice, one per org.
        await db.insertInto("orgs").values({ id: "org_b", name: "b", created_at: "c" }).execute();
        const row = {
          org_id: BOOTSTRAP_ORG_ID,
          host: "r.example",
          username: "u",
          secret: "s1",
          created_at: "c",
          updated_at: "c",
        };
        await upsertRegistryCredential(db, row);
        await upsertRegistryCredential(db, { ...row, username: "v", secret: "s2", updated_at: "d" });
        await upsertRegistryCredential(db, { ...row, org_id: "org_b", username: "w", secret: "s3" });
        // Spread: node:sqlite rows have a null prototype, pg rows do not.
        assert.deepEqual(
          { ...(await getRegistryCredential(db, BOOTSTRAP_ORG_ID, "r.example")) },
          {
            ...row,
            username: "v",
            secret: "s2",
            updated_at: "d",
          },
        );
        assert.equal((await getRegistryCredential(db, "org_b", "r.example"))?.username, "w");
        assert.equal((await listRegistryCredentials(db, BOOTSTRAP_ORG_ID)).length, 1);
        assert.equal(await deleteRegistryCredential(db, BOOTSTRAP_ORG_ID, "r.example"), true);
        assert.equal(await deleteRegistryCredential(db, BOOTSTRAP_ORG_ID, "r.example"), false);
        assert.equal((await listRegistryCredentials(db, "org_b"))[0]?.secret, "s3");
      }),
    );

    test(
      "environment projects round-trip and filter pages (migration 012)",
      withStore(async (db) => {
        const api = "https://github.com/acme/api";
        await insertEnv(db, envRow("aaaaaaaaaaaa", { slot: 0, project: api }));
        await insertEnv(db, envRow("bbbbbbbbbbbb", { slot: 1, project: `${api}-v2` }));
        await insertEnv(db, envRow("cccccccccccc", { slot: 2 }));
        assert.equal(toEnvironment((await getEnvById(db, "aaaaaaaaaaaa"))!).spec.project, api);
        assert.equal("project" in toEnvironment((await getEnvById(db, "cccccccccccc"))!).spec, false);
        const ids = async (project: string) =>
          (await listEnvPage(db, { limit: 10, project })).map((r) => r.id);
        assert.deepEqual(await ids(api), ["aaaaaaaaaaaa"]);
        assert.deepEqual(await ids("https://github.com/ACME/api"), []);
        assert.equal((await listEnvPage(db, { limit: 10 })).length, 3);
        await assert.rejects(insertEnv(db, envRow("dddddddddddd", { slot: 3, project: "" })));
        await assert.rejects(insertEnv(db, envRow("dddddddddddd", { slot: 3, project: "x".repeat(1025) })));
      }),
    );

    test(
      "the schema refuses malformed ids, states and egress JSON",
      withStore(async (db, t) => {
        await assert.rejects(insertEnv(db, envRow("NOT-LOWER-12")));
        await assert.rejects(insertEnv(db, envRow("short")));
        await assert.rejects(insertEnv(db, envRow("aaaaaaaaaaaa", { state: "bogus" as "pending" })));
        await assert.rejects(t.exec("update classes set egress = 'nope' where name = 'default'"));
        assert.equal((await getClass(db, "default"))?.egress, '{"mode":"all"}');
      }),
    );
  });
  orgNamesSuite(backend); // names per organisation (migration 009), in its own file
  orgRegistrySuite(backend); // registry logins and images per organisation (migration 010)
  runnerCapacitySuite(backend); // slots and disk per runner (migration 016)
  cpuBurstSuite(backend); // the CPU governor's burst per class (migration 036)
}
