// A throwaway PostgreSQL cluster for the pg test tier (DESIGN.md: test against a real
// PostgreSQL). Debian's server binaries are run directly: initdb and pg_ctl refuse root, so they
// run as the `postgres` user. The cluster listens only on 127.0.0.1 on a free port, keeps its
// socket in its own temp dir, and runs in a non-UTC time zone and an en-US collation so nothing
// passes only by luck of UTC or byte order. One cluster per test file (started in `before`, stopped in `after`).
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { migratePg } from "@warren/server";
import pg from "pg";

const TIME_ZONE = "Pacific/Auckland";
const TEMPLATE = "warren_template";

export interface PgCluster {
  port: number;
  /** postgres://… for database `name` on this cluster. */
  url(name: string): string;
  /** A new database: a copy of the template with every migration applied, or empty. */
  createDatabase(opts?: { migrated?: boolean }): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest)
    throw new Error("PostgreSQL is not installed: run scripts/setup.sh --test (apt-get install postgresql)");
  return path.join(root, newest, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const asPostgres = (bin: string, args: string[]) =>
  execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TZ: TIME_ZONE, LC_ALL: "C.UTF-8" },
  });

/**
 * Set by scripts/run-tests.ts for the pg tier: the port of the one cluster it started for the
 * whole run (issue 5: one cluster per run, one database per test file, made from a template).
 */
export const SHARED_CLUSTER_PORT_ENV = "WARREN_TEST_PG_PORT";

/**
 * The run's shared cluster when there is one, else a private one for this file (a file run by
 * hand). `durable`: production settings (fsync, synchronous_commit, full_page_writes on), for
 * bench/api; always private.
 */
export async function startPgCluster(o: { durable?: boolean } = {}): Promise<PgCluster> {
  const shared = Number(process.env[SHARED_CLUSTER_PORT_ENV]);
  if (!o.durable && shared > 0) return attach(shared, async () => {});
  return startOwnCluster(o);
}

async function startOwnCluster(o: { durable?: boolean }): Promise<PgCluster> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), "warren-pg-"));
  const data = path.join(dir, "data");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  chownSync(dir, uid, gid);
  const port = await freePort();
  const log = path.join(dir, "log");
  let started = false;
  try {
    asPostgres(path.join(bin, "initdb"), [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
      // A natural-language default collation ("a" sorts before "B"), as most real clusters have,
      // so a query that relies on byte order passes only if the schema asks for it.
      "--locale=C.UTF-8",
      "--locale-provider=icu",
      "--icu-locale=en-US",
    ]);
    const opts = [
      "-c listen_addresses=127.0.0.1",
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      `-c timezone=${TIME_ZONE}`,
      // A test cluster need not survive a crash; these make it start and write faster.
      o.durable
        ? "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
        : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    ].join(" ");
    asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-l", log, "-w", "-t", "30", "-o", opts, "start"]);
    started = true;
  } catch (err) {
    const out = existsSync(log) ? readFileSync(log, "utf8") : "";
    const e = err as { stderr?: Buffer };
    if (started) asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"]);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`start PostgreSQL: ${e.stderr?.toString() ?? ""}${out}`, { cause: err });
  }

  const shutdown = async () => {
    try {
      asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    // The template holds every migration once; each test database is a cheap file copy of it.
    const admin = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, max: 1 });
    admin.on("error", () => {});
    try {
      await admin.query(`create database ${TEMPLATE}`);
    } finally {
      await admin.end();
    }
    const tpl = new pg.Pool({
      connectionString: `postgres://postgres@127.0.0.1:${port}/${TEMPLATE}`,
      max: 1,
    });
    try {
      await migratePg(tpl);
    } finally {
      await tpl.end(); // a template cannot be copied while anyone is connected to it
    }
  } catch (err) {
    await shutdown();
    throw err;
  }
  return attach(port, shutdown);
}

/** Databases on a running cluster; `stop` ends this handle, and runs `shutdown` (the owner's). */
function attach(port: number, shutdown: () => Promise<void>): PgCluster {
  const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  const admin = new pg.Pool({ connectionString: url("postgres"), max: 1 });
  admin.on("error", () => {});
  let seq = 0;
  const stop = async () => {
    await admin.end();
    await shutdown();
  };
  return {
    port,
    url,
    async createDatabase(o = {}) {
      const name = `t${process.pid}_${++seq}`;
      await admin.query(`create database ${name} template ${o.migrated === false ? "template0" : TEMPLATE}`);
      return name;
    },
    async dropDatabase(name) {
      await admin.query(`drop database if exists ${name} with (force)`);
    },
    stop,
  };
}
