// bench/api/statements.ts: every SQL statement and transaction one environment create causes on
// PostgreSQL, counted and attributed to the code that issued it. By hand only, never in CI.
//
// In-process control plane(s) (runDaemon, as `warren server` runs it: TLS listener, relays) on a
// throwaway durable cluster (fsync, synchronous_commit, full_page_writes on), fake runners dialled
// in over the real runner protocol, creates one at a time over the HTTP API with a bearer token
// and an Idempotency-Key each (inject: the same hooks and handlers as the TLS listener). Every
// query of the process goes through pg.Client.prototype.query, which is wrapped to record the
// statement, the connection it ran on, its row count and the first Warren frames of its (async)
// stack. Statements are grouped into transactions per connection (BEGIN..COMMIT, or one
// autocommit statement); a transaction is counted as writing, so paying a synced WAL flush at
// commit, when it changed or locked (FOR UPDATE) a row. NOTIFY alone does not: it writes no WAL,
// so its commit is not flushed synchronously (the calibration printed first shows it). Under
// concurrency one flush can cover several commits (group commit): pg_stat's count is then lower.
// Beside the attribution, pg_stat_database.xact_commit and pg_stat_wal.wal_sync are read before
// and after; an idle window of the same length gives the background (heartbeats, samplers) to
// subtract.
//
//   node bench/api/statements.ts [--creates 10] [--replicas 2] [--wait 0] [--idle-ms 0]
//     [--json FILE] [--sql]    (--sql also lists each distinct statement text per source)
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { connectRunner } from "@warren/protocol";
import { type Daemon, runDaemon } from "@warren/server";
import { FakeRunner } from "@warren/testing/fake-runner";
import { startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import pg from "pg";

const { values: args } = parseArgs({
  options: {
    creates: { type: "string", default: "10" },
    replicas: { type: "string", default: "2" },
    wait: { type: "string", default: "0" },
    "idle-ms": { type: "string", default: "0" },
    json: { type: "string" },
    sql: { type: "boolean", default: false },
  },
});
const N = Number(args.creates);
const REPLICAS = Number(args.replicas);

// ---- the recorder ------------------------------------------------------------------------------
interface Stmt {
  conn: number;
  sql: string;
  rows: number | null;
  source: string;
  at: number;
}
interface Tx {
  conn: number;
  stmts: Stmt[];
  explicit: boolean;
  writes: boolean;
  ended: "commit" | "rollback" | "open";
}
const REPO = path.resolve(import.meta.dirname, "../..");
Error.stackTraceLimit = 100;
let recording = false;
const stmts: Stmt[] = [];
const txs: Tx[] = [];
const open = new Map<number, Tx>();
const connIds = new WeakMap<object, number>();
let nextConn = 0;

/** The first Warren frames outside the query helpers: who asked for this statement. */
function sourceOf(stack: string, sql: string): string {
  const frames = stack
    .split("\n")
    .slice(1)
    .map((l) => /at (?:async )?(?:(\S+) \()?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .filter((m) => m[2]!.startsWith(REPO) && !m[2]!.includes("node_modules") && !m[2]!.includes("bench/"))
    .map((m) => `${path.relative(path.join(REPO, "packages"), m[2]!)}:${m[1] ?? "<anon>"}`);
  if (frames.length === 0) {
    if (process.env["STMTS_STACKS"]) console.error(sql, stack);
    return `(no warren frame) ${sql.replace(/\s+/g, " ").slice(0, 60)}`;
  }
  // A named query (store/queries, store/db.ts) plus the service or controller that called it.
  const isHelper = (f: string) => f.includes("/store/queries/") || f.includes("/store/db.ts");
  const first = frames[0]!;
  const caller = frames.find((f) => !isHelper(f));
  return caller && caller !== first ? `${caller} > ${first}` : first;
}

/** Changes or locks rows: with a row touched, its transaction's commit waits for a WAL flush. */
const isWriteSql = (sql: string) =>
  /^\s*(insert|update|delete|merge)\b/i.test(sql) ||
  /\bfor (no key )?update\b/i.test(sql) ||
  /^\s*with\b[\s\S]*\b(insert|update|delete)\b/i.test(sql);
/** NOTIFY writes no WAL of its own: its commit is not flushed synchronously (calibrated below). */
const isNotify = (sql: string) => /^\s*notify\b|pg_notify\s*\(/i.test(sql);

function record(conn: number, sql: string, rows: number | null, source: string): void {
  const s: Stmt = { conn, sql, rows, source, at: performance.now() };
  stmts.push(s);
  const verb = sql.trim().split(/\s+/, 1)[0]!.toLowerCase();
  const touched = isWriteSql(sql) && (rows === null || rows > 0);
  if (verb === "begin" || verb === "start") {
    const tx: Tx = { conn, stmts: [s], explicit: true, writes: false, ended: "open" };
    open.set(conn, tx);
    txs.push(tx);
    return;
  }
  const cur = open.get(conn);
  if (cur) {
    cur.stmts.push(s);
    if (touched) cur.writes = true;
    if (verb === "commit" || verb === "rollback" || verb === "end") {
      cur.ended = verb === "rollback" ? "rollback" : "commit";
      open.delete(conn);
    }
    return;
  }
  txs.push({ conn, stmts: [s], explicit: false, writes: touched, ended: "commit" });
}

const origQuery = pg.Client.prototype.query as (...a: unknown[]) => unknown;
pg.Client.prototype.query = function (this: object, ...a: unknown[]) {
  const first = a[0] as string | { text?: string } | undefined;
  const sql = typeof first === "string" ? first : (first?.text ?? "");
  if (!recording || !sql) return origQuery.apply(this, a);
  let conn = connIds.get(this);
  if (conn === undefined) {
    conn = ++nextConn;
    connIds.set(this, conn);
  }
  const source = sourceOf(new Error().stack ?? "", sql);
  const c = conn;
  const done = (r: unknown) => record(c, sql, (r as { rowCount?: number | null })?.rowCount ?? null, source);
  const cb = a.findIndex((x) => typeof x === "function");
  if (cb >= 0) {
    const user = a[cb] as (e: unknown, r: unknown) => void;
    a[cb] = (e: unknown, r: unknown) => {
      if (!e) done(r);
      else record(c, sql, 0, source);
      user(e, r);
    };
    return origQuery.apply(this, a);
  }
  const p = origQuery.apply(this, a) as Promise<unknown> | undefined;
  if (p && typeof p.then === "function") p.then(done, () => record(c, sql, 0, source)); // the caller still sees the rejection
  return p;
} as typeof pg.Client.prototype.query;

// ---- the world ---------------------------------------------------------------------------------
const cluster = await startPgCluster({ durable: true });
const cleanups: (() => Promise<void> | void)[] = [];
const stat = async (url: string) => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ commits: string; syncs: string }>(
      "select (select xact_commit from pg_stat_database where datname = current_database()) as commits, (select wal_sync from pg_stat_wal) as syncs",
    );
    return { commits: Number(r.rows[0]!.commits), walSyncs: Number(r.rows[0]!.syncs) };
  } finally {
    await c.end();
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  const name = await cluster.createDatabase({ migrated: false });
  const url = cluster.url(name);
  // Which statements cost a synced WAL flush on their own (autocommit), on the quiet cluster.
  const calibration: Record<string, number> = {};
  for (const [what, sqls] of [
    ["select 1", ["select 1"]],
    ["select pg_notify(…) (the change bus)", ["select pg_notify('warren_calibrate', 'x')"]],
    ["begin; pg_advisory_xact_lock; commit", ["begin", "select pg_advisory_xact_lock(42)", "commit"]],
  ] as const) {
    const before = await stat(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (let i = 0; i < 20; i++) for (const q of sqls) await c.query(q);
    await c.end(); // a backend reports its WAL statistics when it exits
    await sleep(200);
    calibration[what] = ((await stat(url)).walSyncs - before.walSyncs) / 20;
  }
  console.log("WAL flushes per autocommit statement on a quiet cluster:", calibration);
  const daemons: Daemon[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const tmp = tempDir("warren-bench-stmts-");
    cleanups.push(tmp.cleanup);
    const d = await runDaemon({
      socketPath: path.join(tmp.dir, "run", "warren.sock"),
      root: tmp.dir,
      db: url,
      defaultRuntime: "runc",
      logger: false,
      handleSignals: false,
      listen: "127.0.0.1:0",
      relayListen: "127.0.0.1:0",
      relayListenOptional: true,
    });
    cleanups.push(() => d.close());
    daemons.push(d);
  }
  const first = daemons[0]!;
  const runners: FakeRunner[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const d = daemons[i]!;
    const runner = new FakeRunner({ diskFreeBytes: 2 ** 50 });
    runner.slots = N * 4 + 64;
    runner.cpus = 4096;
    runner.memoryBytes = 2 ** 50;
    runner.name = `stmts-${i}`;
    const t = await first.app.inject({
      method: "POST",
      url: "/api/v1/admin/runner-tokens",
      payload: { name: runner.name },
    });
    const conn = await connectRunner(
      { url: `https://127.0.0.1:${d.tls!.port}`, fingerprint: d.tls!.fingerprint, token: t.json().token },
      runner,
    );
    cleanups.push(() => conn.close());
    await conn.ready;
    runners.push(runner);
  }
  const token = (
    await first.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "b" } })
  ).json().token as string;
  const create = (i: number, key: string) =>
    daemons[i % daemons.length]!.app.inject({
      method: "POST",
      url: `/api/v1/environments?wait=${args.wait}`,
      headers: { authorization: `Bearer ${token}`, "idempotency-key": key },
      payload: {},
    });
  const running = () =>
    runners.reduce((n, r) => n + [...r.envs.values()].filter((e) => e.state === "running").length, 0);
  const settle = async (want: number) => {
    for (const until = Date.now() + 30_000; running() < want && Date.now() < until; ) await sleep(5);
    // then until the control plane is quiet: no statement for 300 ms
    for (let last = stmts.length; ; last = stmts.length) {
      await sleep(300);
      if (stmts.length === last) break;
    }
  };
  // Warm-up: caches, prepared paths, the first placement on each runner.
  for (let i = 0; i < 4; i++) {
    const r = await create(i, `warm-${i}`);
    if (r.statusCode !== 201) throw new Error(`warm-up create: ${r.statusCode} ${r.body}`);
  }
  await settle(4);
  await sleep(1500);

  const window = async (fn: () => Promise<void>) => {
    stmts.length = 0;
    txs.length = 0;
    open.clear();
    await sleep(11_000); // an idle backend flushes its pending stats within 10 s
    const before = await stat(url);
    recording = true;
    const t0 = performance.now();
    await fn();
    await sleep(11_000);
    recording = false;
    const after = await stat(url);
    const ms = performance.now() - t0;
    // the two stat() connections each commit one transaction
    return {
      ms,
      stmts: [...stmts],
      txs: [...txs],
      commits: after.commits - before.commits - 1,
      walSyncs: after.walSyncs - before.walSyncs,
    };
  };

  const busy = await window(async () => {
    for (let i = 0; i < N; i++) {
      const r = await create(i, `key-${i}`);
      if (r.statusCode !== 201) throw new Error(`create ${i}: ${r.statusCode} ${r.body}`);
      await settle(4 + i + 1);
    }
  });
  const idleMs = Number(args["idle-ms"]) || Math.max(0, Math.round(busy.ms) - 11_000);
  const idle = await window(async () => {
    await sleep(idleMs);
  });
  const scale = busy.ms / idle.ms;

  // ---- the report ------------------------------------------------------------------------------
  interface Row {
    source: string;
    stmts: number;
    reads: number;
    writes: number;
    txs: number;
    flushes: number;
    sql: Set<string>;
  }
  const bySource = (w: { stmts: Stmt[]; txs: Tx[] }) => {
    const m = new Map<string, Row>();
    const row = (s: string) => {
      const known = m.get(s);
      if (known) return known;
      const r: Row = { source: s, stmts: 0, reads: 0, writes: 0, txs: 0, flushes: 0, sql: new Set() };
      m.set(s, r);
      return r;
    };
    for (const t of w.txs) {
      // a transaction belongs to the source of its first real statement
      const owner = t.stmts.find((s) => !/^\s*(begin|commit|rollback)\b/i.test(s.sql)) ?? t.stmts[0]!;
      const r = row(owner.source);
      r.txs++;
      if (t.writes && t.ended === "commit") r.flushes++;
      for (const s of t.stmts) {
        const rs = row(s.source);
        rs.stmts++;
        if (isWriteSql(s.sql) || isNotify(s.sql)) rs.writes++;
        else rs.reads++;
        rs.sql.add(s.sql.replace(/\s+/g, " ").slice(0, 160));
      }
    }
    return m;
  };
  const busyRows = bySource(busy);
  const idleRows = bySource(idle);
  const per = (n: number) => Number((n / N).toFixed(2));
  const table = [...busyRows.values()]
    .map((r) => {
      const bg = idleRows.get(r.source);
      const net = (k: "stmts" | "reads" | "writes" | "txs" | "flushes") =>
        per(r[k] - (bg ? bg[k] * scale : 0));
      return {
        source: r.source,
        "stmts/create": net("stmts"),
        reads: net("reads"),
        writes: net("writes"),
        "tx/create": net("txs"),
        "WAL flushes/create": net("flushes"),
        sql: [...r.sql],
      };
    })
    .filter((r) => Math.abs(r["stmts/create"]) >= 0.05)
    .sort((a, b) => b["stmts/create"] - a["stmts/create"]);
  const sum = (k: "stmts/create" | "tx/create" | "WAL flushes/create") =>
    table.reduce((n, r) => n + r[k], 0).toFixed(2);
  console.log(
    `\n${N} creates, one at a time, ${REPLICAS} replica(s), wait=${args.wait}; background from an idle ${Math.round(idle.ms)} ms window subtracted (x${scale.toFixed(2)})\n`,
  );
  console.table(table.map(({ sql: _sql, ...r }) => r));
  console.log(
    `total per create: ${sum("stmts/create")} statements, ${sum("tx/create")} transactions, ${sum("WAL flushes/create")} flushing commits (attributed)`,
  );
  console.log(
    `pg_stat per create: ${per(busy.commits - idle.commits * scale)} commits (reads included), ${per(busy.walSyncs - idle.walSyncs * scale)} WAL flushes; idle window: ${idle.commits} commits, ${idle.walSyncs} flushes in ${Math.round(idle.ms)} ms`,
  );
  if (args.sql)
    for (const r of table) {
      console.log(`\n${r.source}`);
      for (const s of r.sql) console.log(`    ${s}`);
    }
  if (args.json)
    writeFileSync(
      args.json,
      JSON.stringify(
        {
          creates: N,
          replicas: REPLICAS,
          wait: args.wait,
          table,
          busy: { commits: busy.commits, walSyncs: busy.walSyncs, ms: busy.ms },
          idle: { commits: idle.commits, walSyncs: idle.walSyncs, ms: idle.ms },
        },
        null,
        2,
      ),
    );
} finally {
  recording = false;
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster.stop();
}
process.exit(0);
