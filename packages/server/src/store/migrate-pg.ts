// The PostgreSQL twin of migrate.ts: the same numbered migrations (their `pg` text), each in its
// own transaction, recorded in the same schema_migrations table.
import type pg from "pg";
import { MIGRATIONS, type Migration } from "./migrations/index.ts";

// Many replicas may start at once against one database; an advisory lock makes exactly one of
// them migrate while the others wait and then find nothing to do. The key is arbitrary but fixed.
const MIGRATE_LOCK = 0x7761_7272; // "warr"

export async function migratePg(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
  now = new Date(),
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATE_LOCK]);
    try {
      return await migrateLocked(client, migrations, now);
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATE_LOCK]);
    }
  } finally {
    client.release();
  }
}

async function migrateLocked(
  client: pg.PoolClient,
  migrations: readonly Migration[],
  now: Date,
): Promise<number[]> {
  await client.query(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at text not null
  )`);
  const res = await client.query<{ v: number | null }>("select max(version) as v from schema_migrations");
  const current = res.rows[0]?.v ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `the database is at schema version ${current} but this warren knows only up to ${latest}; upgrade warren`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    await client.query("begin");
    try {
      // No parameters: pg sends this as a simple query, which may hold several statements.
      await client.query(m.pg);
      await client.query("insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)", [
        m.version,
        m.name,
        now.toISOString(),
      ]);
      await client.query("commit");
    } catch (err) {
      await client.query("rollback");
      throw new Error(`migration ${m.version}_${m.name}: ${(err as Error).message}`, { cause: err });
    }
    applied.push(m.version);
  }
  return applied;
}
