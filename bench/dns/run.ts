// bench/dns: cache-hit throughput and latency of Warren's resolver beside Debian's dnsmasq, both
// forwarding to a local stand-in upstream this script starts (no query leaves the machine).
// The server under test runs on CPU 1 (`taskset -c 1`), the C load generator on CPU 0. The
// generator's own ceiling is measured first against a C reflector that answers every datagram.
// Run by hand as root: node bench/dns/run.ts [--seconds 5] [--names 1000] [--conc 1,16,64,256]
//   [--rate 10000] [--repeat 3] [--nice=-10]
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { query, startUpstream } from "@warren/testing/dns-fixture";
import { printTable, writeResults } from "../lib/stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    names: { type: "string", default: "1000" },
    conc: { type: "string", default: "1,16,64,256" },
    rate: { type: "string", default: "10000" },
    repeat: { type: "string", default: "3" },
    // Optional: a lower nice value for server and generator on a shared, busy host.
    nice: { type: "string", default: "0" },
  },
});
const SECONDS = Number(values.seconds);
const NAMES = Number(values.names);
const CONCS = values.conc!.split(",").map(Number);
const RATE = Number(values.rate);
const REPEAT = Number(values.repeat);
const NICE = ["nice", "-n", String(Number(values.nice))];
const execFileP = promisify(execFile);
const HOST = "127.0.0.1";
const SERVER_CPU = "1";
const LOAD_CPU = "0";

interface LoadResult {
  sent: number;
  received: number;
  lost: number;
  qps: number;
  p50us: number;
  p99us: number;
  p999us: number;
}

const dir = path.join(os.tmpdir(), "warren-bench-dns");
mkdirSync(dir, { recursive: true });
const loadgen = path.join(dir, "loadgen");
const cc = spawnSync("gcc", ["-O2", "-o", loadgen, path.join(import.meta.dirname, "loadgen.c")], {
  encoding: "utf8",
});
if (cc.status !== 0) throw new Error(`gcc loadgen.c: ${cc.stderr}`);

// Async on purpose: the stand-in upstream lives in this process and must keep answering.
async function load(port: number, mode: "closed" | "rate", param: number, secs: number): Promise<LoadResult> {
  const args = [LOAD_CPU, loadgen, mode, HOST, String(port), String(NAMES), String(param), String(secs)];
  const r = await execFileP(NICE[0]!, [...NICE.slice(1), "taskset", "-c", ...args], { encoding: "utf8" });
  return JSON.parse(r.stdout) as LoadResult;
}

function freePort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

async function startServer(cmd: string[], readyLine?: RegExp): Promise<{ proc: ChildProcess; port: number }> {
  const port = freePort();
  const argv = cmd.map((a) => a.replace("{PORT}", String(port)));
  const proc = spawn(NICE[0]!, [...NICE.slice(1), "taskset", "-c", SERVER_CPU, ...argv], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${argv[0]} exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`${argv[0]} not ready: ${out}`);
    if (!readyLine || readyLine.test(out)) {
      try {
        await query({ host: HOST, port }, "n0.bench.test", { timeoutMs: 300 });
        return { proc, port };
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null) return r();
    proc.once("exit", () => r());
    proc.kill("SIGTERM");
  });
}

interface Target {
  name: string;
  port: number;
}

// Each mode runs on every target back to back, REPEAT times, and the median run (by qps) is
// reported: this host is shared, and interleaving spreads background noise over both servers.
async function measureAll(targets: Target[]): Promise<Record<string, string | number>[]> {
  for (const t of targets) await load(t.port, "closed", 32, 2); // warm: every name cached
  const modes: { label: string; mode: "closed" | "rate"; param: number; secs: number }[] = [
    ...CONCS.map((c) => ({ label: `closed c=${c}`, mode: "closed" as const, param: c, secs: SECONDS })),
    { label: `rate ${RATE}/s`, mode: "rate", param: RATE, secs: SECONDS * 2 },
  ];
  const rows: Record<string, string | number>[] = [];
  for (const m of modes) {
    const runs = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]));
    for (let i = 0; i < REPEAT; i++) {
      for (const t of targets) runs.get(t.name)!.push(await load(t.port, m.mode, m.param, m.secs));
    }
    for (const t of targets) {
      const rs = runs.get(t.name)!;
      // Median by p99 for the fixed-rate runs (qps is the rate there), by qps otherwise.
      const by = m.mode === "rate" ? (r: LoadResult) => -r.p99us : (r: LoadResult) => r.qps;
      const r = [...rs].sort((a, b) => by(a) - by(b))[Math.floor(rs.length / 2)]!;
      rows.push(row(t.name, m.label, r, rs));
    }
  }
  return rows;
}

function row(server: string, mode: string, r: LoadResult, rs: LoadResult[]) {
  return {
    server,
    mode,
    qps: Math.round(r.qps),
    "qps range": `${Math.round(Math.min(...rs.map((x) => x.qps)))}-${Math.round(Math.max(...rs.map((x) => x.qps)))}`,
    p50us: r.p50us,
    p99us: r.p99us,
    p999us: r.p999us,
    lost: r.lost,
  };
}

const up = await startUpstream({ ttl: 3600 });
const all: Record<string, string | number>[] = [];
let upstreamAsked = 0;
const procs: ChildProcess[] = [];
try {
  // The generator's ceiling: a C reflector that does no DNS work, measured interleaved too.
  const refl = await startServer([loadgen, "reflect", HOST, "{PORT}"]);
  procs.push(refl.proc);
  const warren = await startServer(
    [
      process.execPath,
      path.join(import.meta.dirname, "warren-server.ts"),
      "--host",
      HOST,
      "--port",
      "{PORT}",
      "--upstream",
      up.addr,
    ],
    /READY/,
  );
  procs.push(warren.proc);
  if (spawnSync("/usr/sbin/dnsmasq", ["--version"]).status !== 0) {
    spawnSync("apt-get", ["install", "-y", "-qq", "dnsmasq-base"], { stdio: "inherit" });
  }
  const dnsmasq = await startServer([
    "/usr/sbin/dnsmasq",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--bind-interfaces",
    `--listen-address=${HOST}`,
    "--port={PORT}",
    `--server=${up.host}#${up.port}`,
    "--cache-size=10000",
    "--dns-forward-max=1000",
    `--pid-file=${path.join(dir, "dnsmasq.pid")}`,
    "--log-facility=-",
  ]);
  procs.push(dnsmasq.proc);
  const before = up.total();
  all.push(
    ...(await measureAll([
      { name: "warren", port: warren.port },
      { name: "dnsmasq", port: dnsmasq.port },
      { name: "loadgen ceiling (reflector)", port: refl.port },
    ])),
  );
  upstreamAsked = up.total() - before;
} finally {
  for (const p of procs) await stop(p);
  await up.close();
}

printTable(
  `dns cache hits, ${NAMES} names, ${SECONDS}s per closed run, median of ${REPEAT}; server on CPU ${SERVER_CPU}, loadgen on CPU ${LOAD_CPU}`,
  all,
);
const pick = (s: string, m: string) => all.find((r) => r.server === s && r.mode === m);
const ratios = CONCS.map((c) => {
  const w = pick("warren", `closed c=${c}`);
  const d = pick("dnsmasq", `closed c=${c}`);
  return { concurrency: c, "warren/dnsmasq qps": Number(w!.qps) / Number(d!.qps) };
});
printTable("ratio (target >= 0.5)", ratios);
const rateRow = pick("warren", `rate ${RATE}/s`)!;
console.log(`\nwarren p99 at ${RATE} qps: ${rateRow.p99us} us (target < 1000 us)`);
console.log(`upstream queries during warm+measure, both servers: ${upstreamAsked} (names: ${NAMES})`);
console.log(
  `results: ${writeResults("dns", { names: NAMES, seconds: SECONDS, repeat: REPEAT, rows: all, ratios, upstreamAsked, loadavg: os.loadavg() })}`,
);
