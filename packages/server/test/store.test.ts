import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { tempDir } from "@warren/testing/server-harness";
import { openStore, storeFile } from "../src/store/db.ts";
import { migrate } from "../src/store/migrate.ts";
import { type StoreBackend, storeSuite } from "./store-suite.ts";

// The shared suite on SQLite; store.pg.test.ts runs the same suite on PostgreSQL.
const sqlite: StoreBackend = {
  name: "sqlite",
  async fresh({ migrated }) {
    const tmp = tempDir();
    const file = storeFile(tmp.dir);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // A short-lived raw handle per call, as a second process (the CLI, an older warren) would.
    const raw = <T>(fn: (db: DatabaseSync) => T): T => {
      const db = new DatabaseSync(file);
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    if (migrated) raw((db) => migrate(db));
    return {
      open: async () => openStore(tmp.dir),
      migrate: async (ms) => raw((db) => migrate(db, ms)),
      exec: async (sql) => raw((db) => db.exec(sql)),
      query: async (sql) => raw((db) => db.prepare(sql).all() as Record<string, unknown>[]),
      cleanup: async () => tmp.cleanup(),
    };
  },
};

storeSuite(sqlite);

test("sqlite: the store runs in WAL mode with a busy timeout", async () => {
  const tmp = tempDir();
  const store = openStore(tmp.dir);
  try {
    const mode = store.sqlite.prepare("pragma journal_mode").get() as { journal_mode: string };
    assert.equal(mode.journal_mode, "wal");
    const timeout = store.sqlite.prepare("pragma busy_timeout").get() as Record<string, number>;
    assert.equal(Object.values(timeout)[0], 5000);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});
