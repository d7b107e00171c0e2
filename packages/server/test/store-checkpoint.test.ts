// The daemon's store checkpoints its WAL from a worker thread (store/sqlite-checkpointer.ts):
// written pages reach the database file without any commit of the daemon running a checkpoint.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { test } from "node:test";
import { tempDir } from "@warren/testing/server-harness";
import { openStore, storeFile } from "../src/store/db.ts";

async function written(backgroundCheckpoints: boolean): Promise<number> {
  const tmp = tempDir();
  const s = openStore(tmp.dir, { backgroundCheckpoints });
  try {
    // Same safety threshold either way, so only the worker differs.
    s.sqlite.exec("pragma wal_autocheckpoint = 20000");
    s.sqlite.exec("create table filler (x text)");
    const before = statSync(storeFile(tmp.dir)).size;
    const ins = s.sqlite.prepare("insert into filler values (?)");
    // ~4 MiB: far below the 20,000-page safety threshold, so only the worker can copy it.
    for (let i = 0; i < 4000; i++) ins.run("x".repeat(1024));
    await new Promise((r) => setTimeout(r, 600));
    return statSync(storeFile(tmp.dir)).size - before;
  } finally {
    await s.close();
    tmp.cleanup();
  }
}

test("the worker copies the WAL into the database file; without it the pages stay in the WAL", async () => {
  assert.ok((await written(true)) > 3 * 1024 * 1024, "pages reached the database file");
  const without = await written(false);
  assert.ok(without < 1024 * 1024, `without the worker the file grew by ${without} bytes`);
});
