// bench/revocation: how long a live session outlives the revocation of its token. Each sample
// opens a session (SSE watch, log follow or exec, in turn) with its own token, waits until data
// flows, revokes the token as root on the local socket, and times from the revoke call's return
// to the client seeing the stream end. Two set-ups, real `warren server` processes:
// - one replica on SQLite: the session ends inside the revoke call, before its reply is sent, so
//   the figure is often negative (the end was seen first);
// - two replicas on PostgreSQL: the session is held on B, the revocation made on A, and the end
//   travels over the change bus (LISTEN/NOTIFY).
// The requirement is 1 s. Peers in the same run, so each figure is also a ratio:
// - one API round trip (GET /api/v1/health) over the same TLS listener: what any answer costs;
// - one PostgreSQL NOTIFY seen by a LISTEN on another connection: the change bus's own floor.
//
//   node bench/revocation/run.ts [--n 100] [--skip-pg]
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@warren/protocol";
import { execProbe, logsProbe, type Probe, watchProbe } from "@warren/testing/live-session-probes";
import { createToken, type Endpoint, revoke, runnerWithEnv } from "@warren/testing/live-sessions-world";
import { startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { type ServerProcess, startServerProcess } from "@warren/testing/server-process";
import pg from "pg";
import { percentile, printTable, writeResults } from "../lib/stats.ts";

const { values: args } = parseArgs({
  options: { n: { type: "string", default: "100" }, "skip-pg": { type: "boolean", default: false } },
});
const N = Number(args.n);
const KINDS = ["watch", "logs", "exec"] as const;

const endpoint = (s: ServerProcess): Endpoint => ({
  local: s.local,
  url: s.url,
  fingerprint: s.fingerprint,
  tls: s.tls,
});

interface Sample {
  kind: (typeof KINDS)[number];
  /** Revoke call returned -> end seen (ms; negative: the end arrived before the call's reply). */
  afterReturnMs: number;
  /** Revoke call made -> end seen (ms). */
  afterCallMs: number;
}

async function measure(holder: ServerProcess, revoker: ServerProcess): Promise<Sample[]> {
  const { conn } = await runnerWithEnv(endpoint(holder), "bench");
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const kind = KINDS[i % KINDS.length]!;
      const t = await createToken(revoker.local, `bench-${i}`);
      const tr = holder.tls(t.token);
      const p: Probe =
        kind === "watch" ? watchProbe(tr) : kind === "logs" ? logsProbe(tr, "bench") : execProbe(tr, "bench");
      try {
        await p.open;
        const called = performance.now();
        const returned = await revoke(revoker.local, t.id);
        const end = await Promise.race([
          p.ended,
          new Promise<never>((_, rej) =>
            setTimeout(() => rej(new Error(`${kind} ${i} not ended in 5 s`)), 5000),
          ),
        ]);
        samples.push({ kind, afterReturnMs: end.at - returned, afterCallMs: end.at - called });
      } finally {
        p.close();
      }
    }
  } finally {
    conn.close();
  }
  return samples;
}

/** The floor for one replica: an API round trip on the same TLS listener, N times. */
async function apiRoundTrips(s: ServerProcess): Promise<number[]> {
  const client = createClient({ transport: s.tls("") });
  await client.health();
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await client.health();
    out.push(performance.now() - t0);
  }
  return out;
}

/** The floor across replicas: NOTIFY on one connection, seen by LISTEN on another, N times. */
async function notifyRoundTrips(url: string): Promise<number[]> {
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await listener.connect();
  await sender.connect();
  try {
    await listener.query("listen bench_peer");
    const out: number[] = [];
    for (let i = 0; i < N; i++) {
      const seen = new Promise<void>((resolve) => listener.once("notification", () => resolve()));
      const t0 = performance.now();
      await sender.query("select pg_notify('bench_peer', $1)", [String(i)]);
      await seen;
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    await listener.end();
    await sender.end();
  }
}

const row = (name: string, s: Sample[]) => {
  const ret = s.map((x) => x.afterReturnMs);
  const call = s.map((x) => x.afterCallMs);
  return {
    setup: name,
    n: s.length,
    "p50 after return (ms)": percentile(ret, 50),
    "p99 after return (ms)": percentile(ret, 99),
    "max after return (ms)": Math.max(...ret),
    "p50 after call (ms)": percentile(call, 50),
    "p99 after call (ms)": percentile(call, 99),
  };
};

const stops: (() => Promise<void> | void)[] = [];
const results: Record<string, Sample[]> = {};
const peers: Record<string, number[]> = {};
try {
  const sq = tempDir("warren-bench-revoke-");
  stops.push(sq.cleanup);
  // No request rate limit: the peer's round trips are back to back.
  const single = await startServerProcess({ db: sq.dir, root: sq.dir, env: { WARREN_RATE_LIMIT: "0" } });
  stops.push(() => single.stop());
  results["sqlite, one replica"] = await measure(single, single);
  peers["API round trip, same TLS listener"] = await apiRoundTrips(single);
  if (!args["skip-pg"]) {
    const cluster = await startPgCluster();
    stops.push(() => cluster.stop());
    const db = cluster.url(await cluster.createDatabase({ migrated: false }));
    const start = async () => {
      const tmp = tempDir("warren-bench-revoke-pg-");
      stops.push(tmp.cleanup);
      const s = await startServerProcess({ db, root: path.join(tmp.dir) });
      stops.push(() => s.stop());
      return s;
    };
    const a = await start();
    const b = await start();
    results["postgres, held on B, revoked on A"] = await measure(b, a);
    peers["PostgreSQL NOTIFY -> LISTEN"] = await notifyRoundTrips(db);
  }
} finally {
  for (const s of stops.splice(0).reverse()) await s();
}

const rows = Object.entries(results).map(([name, s]) => row(name, s));
const peerRows = Object.entries(peers).map(([name, ms]) => ({
  peer: name,
  n: ms.length,
  "p50 (ms)": percentile(ms, 50),
  "p99 (ms)": percentile(ms, 99),
}));
// Each revocation row against its floor: the API round trip for one replica, NOTIFY for two.
const floors = Object.values(peers).map((ms) => percentile(ms, 99));
const ratios = rows.map((r, i) => ({
  setup: r.setup,
  "p99 after call / peer p99": floors[i] ? r["p99 after call (ms)"] / floors[i] : Number.NaN,
}));
printTable(`Revocation latency: ${N} revocations per row (watch, log follow, exec in turn)`, rows);
printTable("Peers, same run", peerRows);
printTable("Ratios", ratios);
const file = writeResults("revocation", {
  n: N,
  kinds: KINDS,
  rows,
  peers: peerRows,
  ratios,
  samples: results,
});
console.log(`\nwrote ${file}`);
