import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { openStore, storeFile } from "../src/store/db.ts";
import { migrate } from "../src/store/migrate.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import { getClass, toClassSpec } from "../src/store/queries/classes.ts";
import { lowestFreeSlot } from "../src/store/queries/envs.ts";
import { tempDir } from "./helpers.ts";

const GiB = 1024 ** 3;

test("migrations apply on a fresh db and seed the default class", async () => {
  const tmp = tempDir();
  const store = openStore(tmp.dir);
  try {
    const cls = await getClass(store.db, "default");
    assert.ok(cls);
    assert.deepEqual(toClassSpec(cls), {
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
    });
    const mode = store.sqlite.prepare("pragma journal_mode").get() as { journal_mode: string };
    assert.equal(mode.journal_mode, "wal");
    const timeout = store.sqlite.prepare("pragma busy_timeout").get() as Record<string, number>;
    assert.equal(Object.values(timeout)[0], 5000);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});

test("re-opening is idempotent: nothing re-applied, data kept", async () => {
  const tmp = tempDir();
  try {
    const first = openStore(tmp.dir);
    await first.db.updateTable("classes").set({ pids: 1234 }).where("name", "=", "default").execute();
    await first.close();
    const second = openStore(tmp.dir);
    const versions = second.sqlite.prepare("select version from schema_migrations").all();
    assert.deepEqual(
      versions.map((v) => v["version"]),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal((await getClass(second.db, "default"))?.pids, 1234);
    assert.deepEqual(migrate(second.sqlite), []);
    await second.close();
  } finally {
    tmp.cleanup();
  }
});

test("a database from a newer warren is refused", () => {
  const tmp = tempDir();
  try {
    const db = new DatabaseSync(storeFile(tmp.dir));
    migrate(db);
    db.prepare("insert into schema_migrations values (999, 'future', 'x')").run();
    assert.throws(() => migrate(db), /schema version 999.*upgrade warren/);
    db.close();
  } finally {
    tmp.cleanup();
  }
});

test("a failing migration rolls back whole", () => {
  const tmp = tempDir();
  try {
    const db = new DatabaseSync(storeFile(tmp.dir));
    const latest = MIGRATIONS.at(-1)!.version;
    const bad = [
      ...MIGRATIONS,
      { version: latest + 1, name: "bad", sql: "create table t (x int); insert into nope values (1);" },
    ];
    assert.throws(() => migrate(db, bad), new RegExp(`migration ${latest + 1}_bad`));
    assert.equal(db.prepare("select count(*) as n from sqlite_master where name = 't'").get()?.["n"], 0);
    assert.equal(db.prepare("select max(version) as v from schema_migrations").get()?.["v"], latest);
    db.close();
  } finally {
    tmp.cleanup();
  }
});

test("lowestFreeSlot reuses gaps", async () => {
  const tmp = tempDir();
  const store = openStore(tmp.dir);
  try {
    assert.equal(await lowestFreeSlot(store.db), 0);
    const base = {
      class_name: "default",
      image: "i",
      runtime: "runc",
      cpus: 1,
      memory_bytes: 1,
      disk_bytes: 1,
      pids: 1,
      desired: "running" as const,
      state: "pending" as const,
      conditions: "[]",
      observed: null,
      stop_grace_ms: 0,
      generation: 1,
      created_at: "t",
      updated_at: "t",
    };
    for (const [id, slot] of [
      ["aaaaaaaaaaaa", 0],
      ["bbbbbbbbbbbb", 1],
      ["cccccccccccc", 3],
    ] as const) {
      await store.db
        .insertInto("environments")
        .values({ ...base, id, name: id, slot })
        .execute();
    }
    assert.equal(await lowestFreeSlot(store.db), 2);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});
