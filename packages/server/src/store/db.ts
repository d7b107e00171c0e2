import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Kysely } from "kysely";
import { migrate } from "./migrate.ts";
import { isPostgresUrl, openStoreUrl, type PgStore } from "./pg-store.ts";
import type { Schema } from "./schema.ts";
import { startCheckpointer } from "./sqlite-checkpointer.ts";
import { NodeSqliteDialect } from "./sqlite-dialect.ts";
import { prepareStoreFiles, STORE_NAME, storeDir, withPrivateUmask } from "./sqlite-files.ts";

export type Db = Kysely<Schema>;

export interface Store {
  kind: "sqlite";
  db: Db;
  /** The raw handle, for migrations and tests. */
  sqlite: DatabaseSync;
  file: string;
  close(): Promise<void>;
}

/** `${root}/db/warren.db`: a 0700 directory of its own, files 0600 (sqlite-files.ts says why). */
export function storeFile(root: string): string {
  return path.join(storeDir(root), STORE_NAME);
}

export interface StoreOptions {
  /**
   * Checkpoint the WAL from a worker thread (sqlite-checkpointer.ts): what the daemon wants under
   * load. Off for short-lived users (tests, the CLI's own reads), which keep SQLite's default.
   */
  backgroundCheckpoints?: boolean;
  /** Told each query's SQL and duration (the daemon's store latency histogram). */
  onQuery?: (sql: string, seconds: number) => void;
}

/** Opens (creating if needed) `${root}/db/warren.db` and brings its schema up to date. */
export function openStore(root: string, opts: StoreOptions = {}): Store {
  const file = prepareStoreFiles(root);
  const sqlite = withPrivateUmask(() => openSqlite(file, opts));
  const onQuery = opts.onQuery;
  const db = new Kysely<Schema>({
    dialect: new NodeSqliteDialect(sqlite),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
  const checkpointer = opts.backgroundCheckpoints ? startCheckpointer(file) : undefined;
  let closed = false;
  return {
    kind: "sqlite",
    db,
    sqlite,
    file,
    async close() {
      if (closed) return;
      closed = true;
      await checkpointer?.stop();
      await db.destroy();
      if (sqlite.isOpen) sqlite.close();
    },
  };
}

/** Opens the file, sets the connection up and migrates; creates the -wal and -shm on the way. */
function openSqlite(file: string, opts: StoreOptions): DatabaseSync {
  const sqlite = new DatabaseSync(file);
  try {
    // WAL lets readers (the CLI's inspection, backups) run while the daemon writes; the busy
    // timeout turns a brief lock held by another process into a wait instead of an error.
    sqlite.exec("pragma journal_mode = wal");
    sqlite.exec("pragma busy_timeout = 5000");
    sqlite.exec("pragma foreign_keys = on");
    sqlite.exec("pragma synchronous = normal");
    // Measured with bench/api: the default 2 MiB page cache missed once a few thousand
    // environments existed, and reads through mmap skip a copy per page. Bounded, not durability-
    // relevant: the WAL and synchronous=NORMAL decide what survives a crash.
    sqlite.exec("pragma cache_size = -65536");
    sqlite.exec("pragma mmap_size = 268435456");
    // With checkpoints in a worker (sqlite-checkpointer.ts), this is only the safety net.
    if (opts.backgroundCheckpoints) sqlite.exec("pragma wal_autocheckpoint = 20000");
    migrate(sqlite);
  } catch (err) {
    sqlite.close();
    throw err;
  }
  return sqlite;
}

/** Either backend; code that only runs queries takes this. */
export type AnyStore = Store | PgStore;

/** Opens the store a `--store` style target names: a postgres:// URL, or else a directory for SQLite. */
export async function openStoreAt(target: string, opts: StoreOptions = {}): Promise<AnyStore> {
  return isPostgresUrl(target)
    ? openStoreUrl(target, opts.onQuery ? { onQuery: opts.onQuery } : {})
    : openStore(target, opts);
}
