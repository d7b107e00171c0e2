// The embedded store's files: ROOT/db/ is 0700 and warren.db, -wal and -shm are 0600 whatever
// the umask; a store left at ROOT/warren.db by an older Warren moves there on start, with what
// its WAL held, and not while another process has it open.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { openStore, storeFile } from "../src/store/db.ts";
import { storeFiles } from "../src/store/sqlite-files.ts";

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const probe = (db: DatabaseSync) =>
  db
    .prepare("select x from probe")
    .all()
    .map((r) => r["x"]);

function tempRoot(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "warren-store-files-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The runner makes the state root 0711; the store must stay private inside it.
  chmodSync(dir, 0o711);
  return dir;
}

/** Runs `fn` with the umask most daemons start with, which makes 0644 files. */
function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

test("a new store is ROOT/db/warren.db in a 0700 directory, every file 0600", async (t) => {
  const root = tempRoot(t);
  const store = withUmask(0o022, () => openStore(root));
  t.after(() => store.close());
  assert.equal(store.file, path.join(root, "db", "warren.db"));
  assert.equal(storeFile(root), store.file);
  store.sqlite.exec("create table probe (x integer) strict; insert into probe values (1)");
  assert.equal(modeOf(path.join(root, "db")), 0o700);
  assert.equal(modeOf(root), 0o711, "the state root is left as the runner wants it");
  const files = storeFiles(store.file);
  assert.deepEqual(files.map(existsSync), [true, true, true], "the WAL and its index exist while open");
  for (const f of files) assert.equal(modeOf(f), 0o600, f);
  assert.equal(existsSync(path.join(root, "warren.db")), false);
});

test("existing store files and directory with loose modes are made private on open", async (t) => {
  const root = tempRoot(t);
  const first = openStore(root);
  first.sqlite.exec("create table probe (x integer) strict; insert into probe values (7)");
  await first.close();
  chmodSync(path.join(root, "db"), 0o755);
  chmodSync(storeFile(root), 0o644);
  const store = withUmask(0o022, () => openStore(root));
  t.after(() => store.close());
  assert.equal(modeOf(path.join(root, "db")), 0o700);
  for (const f of storeFiles(store.file)) if (existsSync(f)) assert.equal(modeOf(f), 0o600, f);
  assert.deepEqual(probe(store.sqlite), [7]);
});

test("a store at ROOT/warren.db moves into ROOT/db/ on start, with what its WAL still held", async (t) => {
  const root = tempRoot(t);
  const legacy = path.join(root, "warren.db");
  // An older daemon that died (kill -9) with committed rows still only in its WAL.
  const child = withUmask(0o022, () =>
    spawnSync(
      process.execPath,
      [
        "-e",
        `const { DatabaseSync } = require("node:sqlite");
       const db = new DatabaseSync(process.argv[1]);
       db.exec("pragma journal_mode = wal; pragma wal_autocheckpoint = 0");
       db.exec("create table probe (x integer) strict; insert into probe values (42)");
       process.kill(process.pid, "SIGKILL");`,
        legacy,
      ],
      { encoding: "utf8" },
    ),
  );
  assert.equal(child.signal, "SIGKILL", child.stderr);
  assert.equal(existsSync(`${legacy}-wal`), true, "the rows are in the WAL");
  assert.equal(modeOf(legacy), 0o644, "made as an older Warren made it");

  const store = openStore(root);
  t.after(() => store.close());
  assert.deepEqual(probe(store.sqlite), [42]);
  for (const f of storeFiles(legacy)) assert.equal(existsSync(f), false, `${f} is gone`);
  for (const f of storeFiles(store.file)) if (existsSync(f)) assert.equal(modeOf(f), 0o600, f);
  assert.equal(modeOf(path.join(root, "db")), 0o700);
});

test("a store at ROOT/warren.db is not moved while something has it open, nor over a newer one", async (t) => {
  const root = tempRoot(t);
  const legacy = path.join(root, "warren.db");
  const holder = new DatabaseSync(legacy); // an older daemon still running
  holder.exec(
    "pragma journal_mode = wal; create table probe (x integer) strict; insert into probe values (1)",
  );
  try {
    assert.throws(() => openStore(root), /warren\.db is open in another process .*stop that process/);
    assert.equal(existsSync(legacy), true, "left where it was");
    assert.equal(existsSync(storeFile(root)), false);
  } finally {
    holder.close();
  }
  // Once it is closed the move goes ahead; a later leftover at the old place is never moved over it.
  const store = openStore(root);
  await store.close();
  const stray = new DatabaseSync(legacy);
  stray.exec("create table stray (x integer) strict");
  stray.close();
  const again = openStore(root);
  t.after(() => again.close());
  assert.deepEqual(probe(again.sqlite), [1]);
  assert.equal(existsSync(legacy), true, "the newer store wins; the stray file is left alone");
});
