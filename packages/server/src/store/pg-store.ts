// The PostgreSQL store: the same schema (migrations' `pg` text) and the same Kysely queries as
// the embedded SQLite store, for control planes with many replicas.
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Db } from "./db.ts";
import { migratePg } from "./migrate-pg.ts";
import type { Schema } from "./schema.ts";

export interface PgStore {
  kind: "postgres";
  db: Db;
  /** The raw pool, for migrations and tests. */
  pool: pg.Pool;
  close(): Promise<void>;
}

// pg returns bigint (int8) as a string because it can exceed 2^53. The schema keeps byte counts,
// generations and ids in bigint only to pass 2^31; they stay far below 2^53, and the queries
// expect numbers as SQLite gives them. Per pool, so no other pg user in the process is affected.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8 && format !== "binary") return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/** Connects to `url` (postgres://...) and brings its schema up to date. */
export async function openStoreUrl(
  url: string,
  opts: {
    /** Told each query's SQL and duration (the daemon's store latency histogram), as for SQLite. */
    onQuery?: (sql: string, seconds: number) => void;
  } = {},
): Promise<PgStore> {
  const pool = new pg.Pool({ connectionString: url, types, max: 10 });
  // An idle connection that dies (server restart) emits 'error' on the pool; unhandled, that
  // would kill the daemon. The pool drops the connection and the next query reconnects.
  pool.on("error", () => {});
  try {
    await migratePg(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const onQuery = opts.onQuery;
  const db = new Kysely<Schema>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
  let closed = false;
  return {
    kind: "postgres",
    db,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy(); // ends the pool
    },
  };
}
