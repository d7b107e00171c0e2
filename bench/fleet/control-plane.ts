// The control plane under test: a throwaway PostgreSQL cluster with production durability and
// 1–2 real `warren server` replicas on it, plus what the bench reads from outside: each replica's
// CPU time (/proc/PID/stat), the database's commit and row-write counters, and runner tokens.
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { callJson, type ServerProcess, startServerProcess } from "@warren/testing/server-process";
import pg from "pg";

export interface Replica {
  server: ServerProcess;
  pid: number;
  root: string;
}

export interface ControlPlane {
  cluster: PgCluster;
  dbUrl: string;
  replicas: Replica[];
  pool: pg.Pool;
  stop(): Promise<void>;
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** The pid of the `warren server` whose --root is `root` (server-process.ts does not expose it). */
function serverPid(root: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const at = args.indexOf("--root");
      if (args.includes("server") && at >= 0 && args[at + 1] === root) return Number(entry);
    } catch {
      // gone while we looked
    }
  }
  throw new Error(`no warren server process with --root ${root}`);
}

export async function startControlPlane(o: {
  replicas: number;
  env: NodeJS.ProcessEnv;
}): Promise<ControlPlane> {
  const cluster = await startPgCluster({ durable: true });
  const dirs: { dir: string; cleanup(): void }[] = [];
  const replicas: Replica[] = [];
  let pool: pg.Pool | undefined;
  const stop = async () => {
    await Promise.all(replicas.map((r) => r.server.stop()));
    await pool?.end().catch(() => {});
    for (const d of dirs) d.cleanup();
    await cluster.stop();
  };
  try {
    const name = await cluster.createDatabase({ migrated: false });
    const dbUrl = cluster.url(name);
    // One after the other: the first one migrates the empty database.
    for (let i = 0; i < o.replicas; i++) {
      const tmp = tempDir(`warren-bench-fleet-${i}-`);
      dirs.push(tmp);
      // Replicas of one database share its secrets key (as an operator copies keys/ to each).
      if (replicas[0])
        cpSync(path.join(replicas[0].root, "keys"), path.join(tmp.dir, "keys"), { recursive: true });
      // By hand: BENCH_PROFILE=DIR writes each replica's CPU profile there when it stops.
      const profile = process.env["BENCH_PROFILE"];
      const server = await startServerProcess({
        db: dbUrl,
        root: tmp.dir,
        env: o.env,
        ...(profile ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profile}`] } : {}),
      });
      replicas.push({ server, root: tmp.dir, pid: serverPid(tmp.dir) });
    }
    pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
    pool.on("error", () => {});
    return { cluster, dbUrl, replicas, pool, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `n` runner tokens of the bootstrap organisation, minted through the API as an admin would. */
export async function mintRunnerTokens(
  server: ServerProcess,
  n: number,
  concurrency = 16,
): Promise<string[]> {
  const tokens = new Array<string>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await callJson(server.local, "POST", "/api/v1/admin/runner-tokens", { name: `sim-${i}` });
        if (res.status !== 201)
          throw new Error(`runner token ${i}: ${res.status} ${JSON.stringify(res.body)}`);
        tokens[i] = (res.body as { token: string }).token;
      }
    }),
  );
  return tokens;
}

export interface DbCounters {
  commits: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Rows inserted, updated or deleted so far, by table: says who writes during a window. */
  byTable: Map<string, number>;
}

/** The database's own counters (pg_stat_database), to count writes over a window. */
export async function dbCounters(pool: pg.Pool): Promise<DbCounters> {
  // Statistics are flushed to the shared view at most once a second; ask for a fresh snapshot.
  await pool.query("select pg_stat_clear_snapshot()");
  const { rows } = await pool.query(
    "select xact_commit, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = current_database()",
  );
  const r = rows[0] as Record<string, string>;
  const tables = await pool.query(
    "select relname, n_tup_ins + n_tup_upd + n_tup_del as n from pg_stat_user_tables",
  );
  return {
    byTable: new Map(tables.rows.map((t: { relname: string; n: string }) => [t.relname, Number(t.n)])),
    commits: Number(r["xact_commit"]),
    inserted: Number(r["tup_inserted"]),
    updated: Number(r["tup_updated"]),
    deleted: Number(r["tup_deleted"]),
  };
}

/** The tables written most between two snapshots, as "table rows/s". */
export function topWriters(a: DbCounters, b: DbCounters, seconds: number, n = 4): string[] {
  return [...b.byTable]
    .map(([table, rows]) => [table, (rows - (a.byTable.get(table) ?? 0)) / seconds] as const)
    .filter(([, perS]) => perS > 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([table, perS]) => `${table} ${Math.round(perS * 10) / 10}/s`);
}
