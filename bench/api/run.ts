// bench/api: environment creates per second through the HTTP API, control plane only.
// A real `warren server` process (SQLite, then PostgreSQL) with a fake runner dialled in over
// /api/runner/v1 that acknowledges every placement at once; clients create over TLS with
// keep-alive, each request with its own Idempotency-Key, as the CLI does. Beside each, the floor:
// a bare INSERT loop of one row per transaction on the same database with the same settings.
//
// Durability, stated: SQLite as the daemon runs it (WAL, synchronous=NORMAL: a commit survives
// a process crash; a power loss can drop the last commits, never corrupt) and PostgreSQL with
// fsync=on, synchronous_commit=on, full_page_writes=on (every commit flushed to disk).
//
// Placement is real: several fake runners (--runners, default 8) of one organisation dial in, so
// creates spread over them; on PostgreSQL the creates go to --replicas (default 2) `warren
// server` processes on one database, round robin, each holding half the runners.
//
//   node bench/api/run.ts [--creates 2000] [--concurrency 16] [--wait 1] [--runners 8]
//     [--replicas 2] [--skip-pg]
import { readFileSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent, request } from "node:https";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { connectRunner } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { callJson, startServerProcess } from "@warren/testing/server-process";
import pg from "pg";
import { percentile, printTable, writeResults } from "../lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    creates: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "4,8,16" },
    wait: { type: "string", default: "1" },
    "skip-pg": { type: "boolean", default: false },
    runners: { type: "string", default: "8" },
    replicas: { type: "string", default: "2" },
  },
});
const N = Number(args.creates);
/** Requests in flight; a list runs each (latency grows with it, throughput levels off). */
const CS = args.concurrency.split(",").map(Number);
const C = Math.max(...CS);
const WARMUP = 100;
const RUNNERS = Number(args.runners);
/** Slots per runner: room for every create of the run, spread over the runners. */
const SLOTS_PER_RUNNER = Math.ceil(((N + WARMUP) * CS.length * 2 * 1.5) / RUNNERS) + 64;

interface Run {
  /** PostgreSQL only: commits and WAL flushes per create over the run (every replica's work included). */
  perCreate?: { commits: number; walSyncs: number };
  name: string;
  ops: number;
  seconds: number;
  latencies: number[];
  errors: number;
}

/** Runs `op` N times with C in flight; returns throughput and per-op latency. */
async function drive(name: string, n: number, c: number, op: (i: number) => Promise<boolean>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        if (!(await op(i))) errors++;
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { name, ops: n, seconds: (performance.now() - t0) / 1000, latencies, errors };
}

/** One create; `via` is TLS with a bearer token (a remote user) or the root-only unix socket. */
function post(
  via: { agent: Agent | HttpAgent; port?: number; socketPath?: string; token?: string },
  body: string,
  key: string,
) {
  const send = via.socketPath ? httpRequest : request;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      {
        agent: via.agent,
        ...(via.socketPath ? { socketPath: via.socketPath } : { host: "127.0.0.1", port: via.port }),
        method: "POST",
        path: `/api/v1/environments?wait=${args.wait}`,
        headers: {
          ...(via.token ? { authorization: `Bearer ${via.token}` } : {}),
          "content-type": "application/json",
          "idempotency-key": key,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function benchServer(label: string, db: string, root: string, replicas: number): Promise<Run[]> {
  const servers: Awaited<ReturnType<typeof startServerProcess>>[] = [];
  const conns: { close(): void }[] = [];
  const extraRoots = Array.from({ length: replicas - 1 }, () => tempDir("warren-bench-api-replica-"));
  const roots = [root, ...extraRoots.map((t) => t.dir)];
  try {
    for (const dir of roots) {
      servers.push(
        await startServerProcess({
          db,
          root: dir,
          env: {
            WARREN_RATE_LIMIT: "1000000",
            WARREN_RATE_BURST: "1000000",
          },
          // By hand: BENCH_PROFILE=DIR writes the server's CPU profile; BENCH_NODE_ARGS="--trace-gc"
          // and the like print what node says to bench/results/api-server.txt.
          nodeArgs: [
            ...(process.env["BENCH_PROFILE"]
              ? ["--cpu-prof", `--cpu-prof-dir=${process.env["BENCH_PROFILE"]}`]
              : []),
            ...(process.env["BENCH_NODE_ARGS"]?.split(" ").filter(Boolean) ?? []),
          ],
        }),
      );
    }
    const first = servers[0]!;
    // Room for every create: this measures the control plane, not admission refusals. Runners
    // alternate between the replicas, as a load balancer in front of them would spread them.
    for (let i = 0; i < RUNNERS; i++) {
      const runner = new FakeRunner({ diskFreeBytes: 2 ** 50 });
      runner.slots = SLOTS_PER_RUNNER;
      runner.cpus = 4096;
      runner.memoryBytes = 2 ** 50;
      runner.name = `bench-${i}`;
      const server = servers[i % servers.length]!;
      const runnerToken = await callJson(first.local, "POST", "/api/v1/admin/runner-tokens", {
        name: `bench-${i}`,
      });
      const conn = await connectRunner(
        {
          url: server.url,
          fingerprint: server.fingerprint,
          token: (runnerToken.body as { token: string }).token,
        },
        runner,
      );
      await conn.ready;
      conns.push(conn);
    }
    const user = (await callJson(first.local, "POST", "/api/v1/tokens", { name: "bench" })).body as {
      token: string;
    };
    // Keep-alive, as any real client; each replica's certificate is pinned by being the only CA.
    const tlsAgents = servers.map((server, i) => ({
      agent: new Agent({
        keepAlive: true,
        maxSockets: C,
        ca: readFileSync(path.join(roots[i]!, "tls", "cert.pem")),
        checkServerIdentity: () => undefined,
      }),
      port: Number(new URL(server.url).port),
      token: user.token,
    }));
    const local = { agent: new HttpAgent({ keepAlive: true, maxSockets: C }), socketPath: first.socket };
    const body = JSON.stringify({});
    const runs: Run[] = [];
    const tlsHow = replicas > 1 ? `TLS + token, ${replicas} replicas` : "TLS + token";
    for (const c of CS)
      for (const [how, pick] of [
        [tlsHow, (i: number) => tlsAgents[Math.abs(i) % tlsAgents.length]!],
        ["unix socket", () => local],
      ] as const) {
        const statuses = new Map<number, number>();
        const op = async (i: number) => {
          const status = await post(pick(i), body, `${label}-${how}-${c}-${i}`);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          return status === 201;
        };
        await drive("warmup", WARMUP, c, (i) => op(-1 - i));
        const before = await pgCounters(db);
        const run = await drive(`warren create, ${label}, ${how}, ${c} in flight`, N, c, op);
        const after = await pgCounters(db);
        if (before && after)
          run.perCreate = {
            commits: (after.commits - before.commits) / N,
            walSyncs: (after.walSyncs - before.walSyncs) / N,
          };
        if (run.errors > 0)
          console.error(
            `${label}: statuses ${JSON.stringify([...statuses])}; ${servers.flatMap((s) => s.problems.slice(0, 3)).join("\n")}`,
          );
        runs.push(run);
      }
    for (const t of tlsAgents) t.agent.destroy();
    local.agent.destroy();
    const other = servers.flatMap((s) => s.other);
    if (other.length)
      writeFileSync(path.resolve(import.meta.dirname, "../results/api-server.txt"), other.join("\n"));
    return runs;
  } finally {
    for (const c of conns) c.close();
    for (const s of servers) await s.stop();
    for (const t of extraRoots) t.cleanup();
  }
}

/** Where the time of a create goes on PostgreSQL: each synced commit waits for a WAL flush. */
async function pgCounters(db: string): Promise<{ commits: number; walSyncs: number } | undefined> {
  if (!db.startsWith("postgres")) return undefined;
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    const r = await c.query<{ commits: string; syncs: string }>(
      "select (select xact_commit from pg_stat_database where datname = current_database()) as commits, (select wal_sync from pg_stat_wal) as syncs",
    );
    return { commits: Number(r.rows[0]?.commits), walSyncs: Number(r.rows[0]?.syncs) };
  } finally {
    await c.end();
  }
}

const row = (r: Run, floor?: Run) => ({
  what: r.name,
  ops: r.ops,
  "ops/s": Math.round(r.ops / r.seconds),
  "p50 ms": percentile(r.latencies, 50),
  "p99 ms": percentile(r.latencies, 99),
  errors: r.errors,
  "vs floor": floor ? `${(r.ops / r.seconds / (floor.ops / floor.seconds)).toFixed(2)}x` : "",
  "commits/create": r.perCreate ? r.perCreate.commits.toFixed(1) : "",
  "WAL flushes/create": r.perCreate ? r.perCreate.walSyncs.toFixed(2) : "",
});

const FLOOR_ROW = (i: number) => [
  `bench${String(i).padStart(8, "0")}`,
  `name-${i}`,
  "{}",
  new Date().toISOString(),
];

const results: ReturnType<typeof row>[] = [];
// SQLite
{
  const tmp = tempDir("warren-bench-api-");
  try {
    const runs = await benchServer("sqlite", tmp.dir, tmp.dir, 1);
    const sqlite = new DatabaseSync(path.join(tmp.dir, "db", "warren.db"));
    sqlite.exec("pragma journal_mode = wal; pragma synchronous = normal; pragma busy_timeout = 5000");
    sqlite.exec(
      "create table bench_floor (id text primary key, name text not null, spec text, created_at text)",
    );
    const ins = sqlite.prepare("insert into bench_floor values (?, ?, ?, ?)");
    // node:sqlite is synchronous: one writer, which is also all SQLite allows.
    const floor = await drive("bare INSERT loop (sqlite)", N, 1, async (i) => {
      ins.run(...FLOOR_ROW(i));
      return true;
    });
    sqlite.close();
    results.push(row(floor), ...runs.map((r) => row(r, floor)));
  } finally {
    tmp.cleanup();
  }
}
// PostgreSQL
if (!args["skip-pg"]) {
  const cluster = await startPgCluster({ durable: true });
  const tmp = tempDir("warren-bench-api-pg-");
  try {
    const name = await cluster.createDatabase({ migrated: false });
    const runs = await benchServer("postgres", cluster.url(name), tmp.dir, Number(args.replicas));
    const pool = new pg.Pool({ connectionString: cluster.url(name), max: C });
    await pool.query(
      "create table bench_floor (id text primary key, name text not null, spec text, created_at text)",
    );
    const floor = await drive("bare INSERT loop (postgres)", N, C, async (i) => {
      await pool.query("insert into bench_floor values ($1, $2, $3, $4)", FLOOR_ROW(i));
      return true;
    });
    await pool.end();
    results.push(row(floor), ...runs.map((r) => row(r, floor)));
  } finally {
    tmp.cleanup();
    await cluster.stop();
  }
}

printTable(`API creates: ${N} per row after ${WARMUP} warm-up, wait=${args.wait}`, results);
const file = writeResults("api", {
  when: new Date().toISOString(),
  creates: N,
  concurrency: CS,
  wait: args.wait,
  durability: {
    sqlite: "WAL, synchronous=NORMAL (the daemon's setting)",
    postgres: "fsync=on, synchronous_commit=on, full_page_writes=on",
  },
  results,
});
console.log(`\nwrote ${file}`);
process.exit(0);
