import type { DatabaseSync } from "node:sqlite";
import { MIGRATIONS, type Migration } from "./migrations/index.ts";

/**
 * Applies every migration newer than the database, each in its own transaction, so a crash
 * leaves the database at a whole version. Runs synchronously before anything else touches the
 * database. Returns the versions applied.
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly Migration[] = MIGRATIONS,
  now = new Date(),
): number[] {
  db.exec(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at text not null
  ) strict`);
  const row = db.prepare("select max(version) as v from schema_migrations").get() as { v: number | null };
  const current = row.v ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `the database is at schema version ${current} but this warren knows only up to ${latest}; upgrade warren`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.exec("begin immediate");
    try {
      db.exec(m.sql);
      db.prepare("insert into schema_migrations (version, name, applied_at) values (?, ?, ?)").run(
        m.version,
        m.name,
        now.toISOString(),
      );
      db.exec("commit");
    } catch (err) {
      db.exec("rollback");
      throw new Error(`migration ${m.version}_${m.name}: ${(err as Error).message}`, { cause: err });
    }
    applied.push(m.version);
  }
  return applied;
}
