// bench/fleet: the simulated fleet. By hand only, never in CI.
//
// 1. Packing quality (pure, packing.ts): a synthetic bursty working day placed by Warren's
//    scheduler and by a requests-only scheduler (the Kubernetes default); hosts needed, OOM and
//    throttle events.
// 2. The real control plane: 1–2 `warren server` replicas on a throwaway PostgreSQL (fsync,
//    synchronous_commit and full_page_writes on), thousands of simulated runners (SimRunner over the
//    real runner protocol, in several processes), then environment creates over TLS:
//    - placement throughput: acknowledged placements per second, first create to last ack;
//    - placement latency: the admitted row's created_at → the runner's ensureRunning (timestamped
//      in the simulated runner; same host, same clock), and the API request → that ack;
//    - heartbeat load: each replica's CPU time over a window with placements idle, net of the
//      same replica's CPU with no runners, per 1,000 runners; and the database's commits and row
//      writes in that window (heartbeats must not each write).
//
//   node bench/fleet/run.ts [--runners 1000] [--envs 10000] [--replicas 2] [--procs 4]
//     [--concurrency 32] [--window 45] [--heartbeat-ms 15000] [--skip-packing] [--packing-only]
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { callJson } from "@warren/testing/server-process";
import { percentile, printTable, writeResults } from "../lib/stats.ts";
import {
  type ControlPlane,
  cpuSeconds,
  dbCounters,
  mintRunnerTokens,
  startControlPlane,
  topWriters,
} from "./control-plane.ts";
import { runPacking } from "./packing.ts";
import { printControlPlane } from "./report.ts";
import { startSimFleet } from "./sim-fleet.ts";

const { values: args } = parseArgs({
  options: {
    runners: { type: "string", default: "1000" },
    envs: { type: "string", default: "10000" },
    replicas: { type: "string", default: "2" },
    procs: { type: "string", default: "4" },
    concurrency: { type: "string", default: "32" },
    window: { type: "string", default: "45" },
    "heartbeat-ms": { type: "string", default: "15000" },
    "connect-concurrency": { type: "string", default: "20" },
    "ack-timeout": { type: "string", default: "180" },
    "packing-envs": { type: "string", default: "1000" },
    "skip-packing": { type: "boolean", default: false },
    "packing-only": { type: "boolean", default: false },
  },
});
const RUNNERS = Number(args.runners);
const ENVS = Number(args.envs);
const REPLICAS = Number(args.replicas);
const PROCS = Number(args.procs);
const C = Number(args.concurrency);
const WINDOW_S = Number(args.window);
const GiB = 1024 ** 3;
/** A common host: room for far more than the bench's environments on each runner. */
const SIM_HOST = { cpus: 16, memoryBytes: 64 * GiB, diskBytes: 4096 * GiB, slots: 64 };

const REFERENCES = {
  nomadC2M:
    "Nomad C2M (2020): 2,000,000 containers on 6,100 client hosts in 22 minutes, about 1,500 placements/s",
  kubernetes:
    "Kubernetes large-cluster limits: at most 5,000 nodes, 150,000 pods and 110 pods per node per cluster",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Results accumulate in fleet.json: a run replaces the packing and the control-plane figures of
 * its own fleet size, and keeps the other sizes' (the 1,000- and 10,000-runner runs are separate).
 */
const RESULTS = path.resolve(import.meta.dirname, "../results/fleet.json");
const previous = (() => {
  try {
    return JSON.parse(readFileSync(RESULTS, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
})();
const out: Record<string, unknown> = {
  ...previous,
  when: new Date().toISOString(),
  references: REFERENCES,
  controlPlane: { ...(previous["controlPlane"] as Record<string, unknown> | undefined) },
};

/** Two days on the same seed: typical developers, and memory-heavy ones (big working sets at idle). */
const PACKING_SCENARIOS = [
  { scenario: "typical", idleMemory: [0.2, 0.35] as [number, number] },
  { scenario: "memory-heavy", idleMemory: [0.45, 0.6] as [number, number] },
];

if (!args["skip-packing"]) {
  const packing = PACKING_SCENARIOS.map((s) => ({
    scenario: s.scenario,
    ...runPacking({ envs: Number(args["packing-envs"]), hours: 9, seed: 7, idleMemory: s.idleMemory }),
  }));
  out["packing"] = packing;
  for (const p of packing)
    printTable(
      `Packing quality, ${p.scenario}: ${p.trace.envs} developer environments over ${p.trace.hours} h ` +
        `(idle working set ${p.trace.idleMemory.join("–")} of the limit; ${p.trace.bursts} compile bursts, ` +
        `${p.trace.burstSharePct}% of env-time), hosts of 16 cores / 64 GiB`,
      p.rows,
    );
}

/** One create over TLS with keep-alive; resolves with the status and the created environment. */
function create(agent: Agent, port: number, token: string, key: string) {
  return new Promise<{ status: number; id?: string; createdAt?: string; runner?: string }>((resolve) => {
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/api/v1/environments?wait=0",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let body: { id?: string; createdAt?: string; runner?: { name: string }; message?: string } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {}
          resolve({
            status: res.statusCode ?? 0,
            ...(body.id ? { id: body.id } : {}),
            ...(body.createdAt ? { createdAt: body.createdAt } : {}),
            ...(body.runner ? { runner: body.runner.name } : {}),
          });
          if ((res.statusCode ?? 0) >= 400 && failures.length < 5)
            failures.push(`${res.statusCode}: ${body.message}`);
        });
      },
    );
    // A reset or refused connection is a failed create (status 0), not the end of the run.
    req.on("error", (err) => {
      if (failures.length < 5) failures.push(`request: ${err.message}`);
      resolve({ status: 0 });
    });
    req.end("{}");
  });
}
const failures: string[] = [];

async function measureWindow(cp: ControlPlane, seconds: number) {
  const cpu0 = cp.replicas.map((r) => cpuSeconds(r.pid));
  const db0 = await dbCounters(cp.pool);
  const t0 = performance.now();
  const activity = await sampleActivity(cp, seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const db1 = await dbCounters(cp.pool);
  const cpu = cp.replicas.map((r, i) => (cpuSeconds(r.pid) - cpu0[i]!) / elapsed);
  return {
    elapsed,
    /** Cores each replica used on average. */
    cpu,
    transactionsPerS: (db1.commits - db0.commits) / elapsed,
    rowsWrittenPerS:
      (db1.inserted + db1.updated + db1.deleted - db0.inserted - db0.updated - db0.deleted) / elapsed,
    topWriters: topWriters(db0, db1, elapsed),
    activeQueries: activity,
  };
}

/** What the database is busy with: its running statements sampled every 100 ms, most seen first. */
async function sampleActivity(cp: ControlPlane, ms: number): Promise<string[]> {
  const seen = new Map<string, number>();
  let samples = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const { rows } = await cp.pool.query(
      `select left(regexp_replace(query, '\\s+', ' ', 'g'), 90) as q from pg_stat_activity
        where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
    );
    for (const r of rows as { q: string }[]) seen.set(r.q, (seen.get(r.q) ?? 0) + 1);
    samples++;
    await sleep(100);
  }
  return [...seen]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([q, n]) => `${Math.round((n / Math.max(1, samples)) * 100)}% ${q}`);
}

async function controlPlaneRun() {
  const cp = await startControlPlane({
    replicas: REPLICAS,
    env: {
      WARREN_RATE_LIMIT: "1000000",
      WARREN_RATE_BURST: "1000000",
      WARREN_RUNNER_HEARTBEAT_MS: args["heartbeat-ms"],
    },
  });
  const fleet: { stop(): Promise<void> }[] = [];
  try {
    const idle = await measureWindow(cp, Math.min(15, WINDOW_S));
    console.error(
      `control plane up (${REPLICAS} replicas); idle cpu ${idle.cpu.map((c) => round(c * 100)).join(", ")} %`,
    );
    let t = performance.now();
    const tokens = await mintRunnerTokens(cp.replicas[0]!.server, RUNNERS);
    console.error(`${RUNNERS} runner tokens in ${round((performance.now() - t) / 1000)} s`);
    t = performance.now();
    const sims = await startSimFleet({
      runners: RUNNERS,
      procs: PROCS,
      endpoints: cp.replicas.map((r) => ({ url: r.server.url, fingerprint: r.server.fingerprint })),
      tokens,
      host: SIM_HOST,
      connectConcurrency: Number(args["connect-concurrency"]),
    });
    fleet.push(sims);
    const connectS = (performance.now() - t) / 1000;
    console.error(`${sims.connected} runners connected (${sims.failed} failed) in ${round(connectS)} s`);
    if (sims.errors.length) console.error(sims.errors.join("\n"));
    if (sims.connected === 0) throw new Error("no simulated runner connected; see the errors above");
    // Placement reads runner_capacity; wait until every connected runner has its row.
    for (let i = 0; i < 120; i++) {
      const { rows } = await cp.pool.query("select count(*)::int as n from runner_capacity where slots > 0");
      if ((rows[0] as { n: number }).n >= sims.connected) break;
      await sleep(1000);
    }
    await sleep(3000); // every replica's fleet view refreshes (1–2 s)

    const user = (await callJson(cp.replicas[0]!.server.local, "POST", "/api/v1/tokens", { name: "bench" }))
      .body as {
      token: string;
    };
    const agents = cp.replicas.map(
      (r) =>
        new Agent({
          keepAlive: true,
          maxSockets: C,
          ca: readFileSync(path.join(r.root, "tls", "cert.pem")),
          checkServerIdentity: () => undefined,
        }),
    );
    const ports = cp.replicas.map((r) => Number(new URL(r.server.url).port));
    const created: { id: string; createdAt: number; sentAt: number; replied: number; runner?: string }[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const dbBefore = await dbCounters(cp.pool);
    const loadBefore = loadavg()[0]!;
    const t0 = performance.timeOrigin + performance.now();
    await Promise.all(
      Array.from({ length: C }, async () => {
        while (next < ENVS) {
          const i = next++;
          const r = i % REPLICAS;
          const sentAt = performance.timeOrigin + performance.now();
          let res = await create(agents[r]!, ports[r]!, user.token, `fleet-${i}`);
          // A keep-alive socket the server closed as the request went out: the same Idempotency-Key
          // makes a retry safe (it answers with the environment if the first one was admitted).
          if (res.status === 0) res = await create(agents[r]!, ports[r]!, user.token, `fleet-${i}`);
          const replied = performance.timeOrigin + performance.now();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201 && res.id && res.createdAt)
            created.push({
              id: res.id,
              createdAt: Date.parse(res.createdAt),
              sentAt,
              replied,
              ...(res.runner ? { runner: res.runner } : {}),
            });
        }
      }),
    );
    const createsDone = performance.timeOrigin + performance.now();
    const dbAfter = await dbCounters(cp.pool);
    const loadAfter = loadavg()[0]!;
    console.error(`creates: ${JSON.stringify(Object.fromEntries(statuses))} ${failures.join("; ")}`);
    for (const [i, r] of cp.replicas.entries())
      if (r.server.problems.length)
        console.error(
          `replica ${i}: ${r.server.problems.length} warnings, first: ${r.server.problems.slice(0, 3).join("\n")}`,
        );
    const missing = await sims.waitForAcks(
      created.map((c) => c.id),
      Number(args["ack-timeout"]) * 1000,
    );
    for (const a of agents) a.destroy();
    const acked = created.filter((c) => sims.acks.has(c.id));
    const lastAck = acked.reduce((m, c) => Math.max(m, sims.acks.get(c.id)!), 0);
    const placementMs = acked.map((c) => sims.acks.get(c.id)! - c.createdAt);
    const requestToAckMs = acked.map((c) => sims.acks.get(c.id)! - c.sentAt);
    const apiMs = created.map((c) => c.replied - c.sentAt);
    const spread = await cp.pool.query(
      "select count(distinct runner_id)::int as runners, max(n)::int as most, min(n)::int as fewest from (select runner_id, count(*) as n from environments group by runner_id) s",
    );
    const over = await cp.pool.query(
      `select count(*)::int as n from runner_capacity
        where alloc_envs > slots or alloc_memory_bytes > memory_bytes * 1.5 or alloc_disk_bytes > disk_bytes`,
    );
    const exact = await cp.pool.query(
      `select count(*)::int as n from runner_capacity c left join
         (select runner_id, count(*) as envs, sum(memory_bytes) as mem from environments group by runner_id) e
         on e.runner_id = c.runner_id
        where c.alloc_envs <> coalesce(e.envs, 0) or c.alloc_memory_bytes <> coalesce(e.mem, 0)`,
    );
    await sleep(5000); // reconciles settle before the heartbeat window
    const beat = await measureWindow(cp, WINDOW_S);
    const per1000 = beat.cpu.map((c, i) => ((c - idle.cpu[i]!) / (RUNNERS / REPLICAS)) * 1000);
    const placement = {
      runners: RUNNERS,
      connected: sims.connected,
      replicas: REPLICAS,
      simProcesses: PROCS,
      concurrency: C,
      envs: ENVS,
      statuses: Object.fromEntries(statuses),
      failures,
      connectSeconds: round(connectS),
      creates: created.length,
      "creates/s": round(created.length / ((createsDone - t0) / 1000)),
      "create p50 ms": round(percentile(apiMs, 50)),
      "create p99 ms": round(percentile(apiMs, 99)),
      acked: acked.length,
      unacked: missing,
      "placements/s": round(acked.length / ((lastAck - t0) / 1000)),
      "placement p50 ms": round(percentile(placementMs, 50)),
      "placement p99 ms": round(percentile(placementMs, 99)),
      "request→ack p99 ms": round(percentile(requestToAckMs, 99)),
      runnersUsed: (spread.rows[0] as { runners: number }).runners,
      mostOnOneRunner: (spread.rows[0] as { most: number }).most,
      fewestOnOneRunner: (spread.rows[0] as { fewest: number }).fewest,
      overAdmittedRunners: (over.rows[0] as { n: number }).n,
      allocMismatchRunners: (exact.rows[0] as { n: number }).n,
      dropped: sims.dropped.length,
      // Transactions (reads included) and rows written per create, across every replica's work.
      dbTransactionsPerCreate: round((dbAfter.commits - dbBefore.commits) / Math.max(1, created.length)),
      dbRowsWrittenPerCreate: round(
        (dbAfter.inserted +
          dbAfter.updated +
          dbAfter.deleted -
          dbBefore.inserted -
          dbBefore.updated -
          dbBefore.deleted) /
          Math.max(1, created.length),
      ),
      /** The host's 1-minute load average around the creates: 2 cores, shared with other work. */
      loadAverage: [round(loadBefore, 2), round(loadAfter, 2)],
    };
    const heartbeat = {
      heartbeatMs: Number(args["heartbeat-ms"]),
      windowS: round(beat.elapsed),
      idleCpuPctPerReplica: idle.cpu.map((c) => round(c * 100, 2)),
      cpuPctPerReplica: beat.cpu.map((c) => round(c * 100, 2)),
      "cpu % of a core per 1,000 runners": per1000.map((c) => round(c * 100, 2)),
      dbTransactionsPerS: round(beat.transactionsPerS),
      dbRowsWrittenPerS: round(beat.rowsWrittenPerS),
      dbTopWriters: beat.topWriters,
      dbActiveQueries: beat.activeQueries,
      heartbeatsPerS: round(sims.connected / (Number(args["heartbeat-ms"]) / 1000)),
    };
    return { placement, heartbeat };
  } finally {
    for (const f of fleet) await f.stop();
    await cp.stop();
  }
}

if (!args["packing-only"]) {
  const r = await controlPlaneRun();
  (out["controlPlane"] as Record<string, unknown>)[`${RUNNERS} runners`] = { when: out["when"], ...r };
  printControlPlane(r.placement, r.heartbeat);
}
const file = writeResults("fleet", out);
console.log(`\nwrote ${file}`);
process.exit(0);
