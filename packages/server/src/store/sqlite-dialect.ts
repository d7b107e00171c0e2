// Kysely ships a SQLite dialect written against better-sqlite3. node:sqlite's DatabaseSync is
// close enough that a thin adapter suffices, which keeps the daemon free of native addons.
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import {
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from "kysely";

function adaptStatement(stmt: StatementSync): SqliteStatement {
  const params = (p: ReadonlyArray<unknown>) => p.map(toSqlValue);
  return {
    // A statement that yields columns is a reader (SELECT, or RETURNING on a write).
    reader: stmt.columns().length > 0,
    all: (p) => stmt.all(...params(p)),
    run: (p) => {
      const r = stmt.run(...params(p));
      return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
    },
    iterate: (p) => stmt.iterate(...params(p)) as IterableIterator<unknown>,
  };
}

// node:sqlite refuses booleans and undefined; SQLite has no boolean type anyway.
function toSqlValue(v: unknown): SQLInputValue {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === undefined) return null;
  return v as SQLInputValue;
}

/** Prepared statements kept per SQL text: Kysely compiles the same few shapes over and over. */
const STATEMENT_CACHE = 512;

export function adaptDatabase(db: DatabaseSync): SqliteDatabase {
  // Preparing (and asking for the columns) was a third of the daemon's CPU per API create
  // (bench/api profile); statements are reusable, so keep them, least recently used out first.
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      if (db.isOpen) db.close();
    },
    prepare: (sql) => {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = adaptStatement(db.prepare(sql));
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/**
 * Kysely's SqliteDriver hands the one connection to every caller at once. With awaits between
 * the statements of a transaction, another query could run inside it; this mutex makes a
 * transaction own the connection until it commits.
 */
class SerializedSqliteDriver extends SqliteDriver {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  override async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((r) => {
      release = r;
    });
    await previous;
    this.#release = release;
    return super.acquireConnection();
  }

  override async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

export class NodeSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase;
  constructor(db: DatabaseSync) {
    const database = adaptDatabase(db);
    super({ database });
    this.#database = database;
  }
  override createDriver(): Driver {
    return new SerializedSqliteDriver({ database: this.#database });
  }
}
