// bench/proxy: keep-alive HTTP/1.1 POSTs with a 1 KiB body to a backend inside an environment
// (nginx in the env, bench/proxy/backend-in-env.ts), three ways in the same run, peers alternating:
// - through Warren's port proxy (the embedded daemon: the proxy dials the app through the
//   runner's Engine.dial in-process), with the port public so no sign-in is involved;
// - directly to the backend at the environment's IP (the floor);
// - through Debian's nginx on the host as a reverse proxy (worker_processes 1, upstream keep-alive).
// A fourth row, for reference only: a bare node:http proxy (node-floor.ts), the least a node:http
// proxy costs here, so Warren's own work shows apart from node's.
// Warren's daemon, the host nginx and the node floor are pinned to CPU 1; wrk and the backend to CPU 0.
// Each path gets a loaded run (wrk -c CONNECTIONS: req/s, and the proxy process's CPU time from
// /proc/PID/stat, so req/s per proxy core) and a run with one connection (the latency a single
// request pays: p50/p99, "added" = minus the direct path's).
// Targets: Warren >= 0.5x nginx's req/s per core; added p50 <= 0.3 ms.
//
// Run by hand as root: node bench/proxy/run.ts [--seconds 10] [--latency-seconds 5]
//   [--connections 32] [--repeat 3] [--cpu-prof DIR]
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { parseArgs } from "node:util";
import { makeHarness } from "@warren/testing/e2e-harness";
import { percentile, printTable, writeResults } from "../lib/stats.ts";
import { cgroupCpuMs, processCpuMs } from "../ssh/cpu.ts";
import { type Backend, startBackendInEnv } from "./backend-in-env.ts";
import { type HostNginx, startHostNginx } from "./nginx-host.ts";
import { BODY_BYTES, running, type WrkResult, writeScript, wrk } from "./wrk.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    "latency-seconds": { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    repeat: { type: "string", default: "3" },
    // Writes a V8 CPU profile of the daemon (proxy and embedded runner) into this directory.
    "cpu-prof": { type: "string" },
  },
});
const SECONDS = Number(args.seconds);
const LAT_SECONDS = Number(args["latency-seconds"]);
const CONNECTIONS = Number(args.connections);
const REPEAT = Number(args.repeat);
const ENV = "bench-proxy";
const BACKEND_PORT = 8000;
const NGINX_PORT = 18000 + Math.floor(Math.random() * 1000);
const FLOOR_PORT = NGINX_PORT + 1000;

for (const tool of ["wrk", "nginx", "taskset"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
    throw new Error(`${tool} is not installed: apt-get install wrk nginx-light util-linux`);
}

function pin(pid: number, cpu: number): void {
  const r = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid}: ${r.stderr}`);
}

const cpuMsOf = (pids: number[]) =>
  pids.reduce((sum, p) => {
    const c = processCpuMs(p);
    return sum + c.user + c.sys;
  }, 0);

const h = await makeHarness("bench-proxy");
let backend: Backend | undefined;
let nginx: HostNginx | undefined;
let floor: ChildProcess | undefined;
process.once("SIGINT", () => {
  for (const c of running) c.kill("SIGKILL");
});

try {
  await h.startDaemon(
    args["cpu-prof"] ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(args["cpu-prof"])}` } : {},
  );
  const daemonPid = h.daemon?.pid;
  if (daemonPid === undefined) throw new Error("no daemon pid");
  console.log(`daemon up (root ${h.root}); creating ${ENV}`);
  const quota = h.cli(["quota", "set", "--public-ports", "allow"]);
  if (quota.status !== 0) throw new Error(`warren quota set: ${quota.stderr}`);
  const up = h.cli(["up", "--name", ENV, "--memory", "1g", "--detach"]);
  if (up.status !== 0) throw new Error(`warren up: ${up.stderr}`);

  console.log("installing and starting nginx inside the environment (the backend)");
  backend = startBackendInEnv(h, ENV, BACKEND_PORT);
  const set = h.cli(["port", "set", ENV, String(BACKEND_PORT), "--visibility", "public", "--json"]);
  if (set.status !== 0) throw new Error(`warren port set: ${set.stderr}`);
  const portUrl = new URL((JSON.parse(set.stdout) as { url?: string }).url ?? "");
  nginx = await startHostNginx(`${h.root}/nginx`, NGINX_PORT, `${backend.ip}:${BACKEND_PORT}`);
  floor = spawn(
    "taskset",
    [
      "-c",
      "1",
      process.execPath,
      path.join(import.meta.dirname, "node-floor.ts"),
      String(FLOOR_PORT),
      backend.ip,
      String(BACKEND_PORT),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await once(floor.stdout!, "data");
  // Pinned after the environment and its backend started, so nothing they fork inherits CPU 1.
  pin(daemonPid, 1);
  const cgroups = (await h.client.getEnvironment(ENV)).observed?.cgroupPaths;
  if (!cgroups) throw new Error("no cgroup paths to account the backend's CPU to");

  const script = writeScript(h.root);
  const nginxPids = nginx.pids();
  type Path = { name: string; url: string; host?: string; proxyPids: number[] };
  const paths: Path[] = [
    { name: "warren", url: `http://127.0.0.1:${portUrl.port}/`, host: portUrl.host, proxyPids: [daemonPid] },
    { name: "direct", url: `http://${backend.ip}:${BACKEND_PORT}/`, proxyPids: [] },
    { name: "nginx", url: `http://127.0.0.1:${NGINX_PORT}/`, host: portUrl.host, proxyPids: nginxPids },
    {
      name: "nodeFloor",
      url: `http://127.0.0.1:${FLOOR_PORT}/`,
      host: portUrl.host,
      proxyPids: [floor.pid!],
    },
  ];
  console.log(
    `warren: ${portUrl.host} via 127.0.0.1:${portUrl.port}; direct: ${backend.ip}:${BACKEND_PORT}; nginx: 127.0.0.1:${NGINX_PORT}`,
  );

  for (const p of paths) await wrk({ ...p, script, connections: CONNECTIONS, seconds: 2 }); // warm-up

  type Run = { load: WrkResult; rps: number; proxyCores: number; backendCores: number; one: WrkResult };
  const runs = new Map<string, Run[]>(paths.map((p) => [p.name, []]));
  for (let i = 0; i < REPEAT; i++) {
    for (const p of i % 2 === 0 ? paths : [...paths].reverse()) {
      const t0 = process.hrtime.bigint();
      const c0 = cpuMsOf(p.proxyPids);
      const b0 = cgroupCpuMs(cgroups);
      const load = await wrk({ ...p, script, connections: CONNECTIONS, seconds: SECONDS });
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const proxyCores = (cpuMsOf(p.proxyPids) - c0) / wallMs;
      const backendCores = (cgroupCpuMs(cgroups) - b0) / wallMs;
      const one = await wrk({ ...p, script, connections: 1, seconds: LAT_SECONDS });
      const rps = load.requests / (load.durationUs / 1e6);
      runs.get(p.name)!.push({ load, rps, proxyCores, backendCores, one });
      console.log(
        `run ${i + 1}/${REPEAT} ${p.name.padEnd(6)}: ${rps.toFixed(0)} req/s, proxy ${proxyCores.toFixed(2)} cores, ` +
          `1-conn p50 ${(one.p50Us / 1000).toFixed(3)} ms p99 ${(one.p99Us / 1000).toFixed(3)} ms`,
      );
    }
  }

  const med = (xs: number[]) => percentile(xs, 50);
  const summary = (name: string) => {
    const rs = runs.get(name)!;
    return {
      reqPerSec: med(rs.map((r) => r.rps)),
      proxyCores: med(rs.map((r) => r.proxyCores)),
      reqPerSecPerProxyCore: name === "direct" ? null : med(rs.map((r) => r.rps / r.proxyCores)),
      backendCores: med(rs.map((r) => r.backendCores)),
      loadedMs: {
        p50: med(rs.map((r) => r.load.p50Us)) / 1000,
        p99: med(rs.map((r) => r.load.p99Us)) / 1000,
      },
      oneConnMs: { p50: med(rs.map((r) => r.one.p50Us)) / 1000, p99: med(rs.map((r) => r.one.p99Us)) / 1000 },
    };
  };
  const w = summary("warren");
  const d = summary("direct");
  const n = summary("nginx");
  const f = summary("nodeFloor");
  const added = (x: typeof w) => ({
    p50: x.oneConnMs.p50 - d.oneConnMs.p50,
    p99: x.oneConnMs.p99 - d.oneConnMs.p99,
  });
  const result = {
    bodyBytes: BODY_BYTES,
    seconds: SECONDS,
    latencySeconds: LAT_SECONDS,
    connections: CONNECTIONS,
    repeat: REPEAT,
    pinning: { warrenDaemon: 1, hostNginx: 1, wrk: 0, backend: 0 },
    warren: w,
    direct: d,
    nginx: n,
    nodeFloor: f,
    perCoreRatioVsNginx: w.reqPerSecPerProxyCore! / n.reqPerSecPerProxyCore!,
    reqPerSecRatioVsNginx: w.reqPerSec / n.reqPerSec,
    nodeFloorPerCoreRatioVsNginx: f.reqPerSecPerProxyCore! / n.reqPerSecPerProxyCore!,
    addedMs: { warren: added(w), nginx: added(n), nodeFloor: added(f) },
    runs: Object.fromEntries(runs),
  };
  const row = (label: string, x: typeof w) => ({
    path: label,
    "req/s": x.reqPerSec,
    "proxy cores": x.proxyCores,
    "req/s per proxy core": x.reqPerSecPerProxyCore ?? "-",
    "backend cores": x.backendCores,
    [`p50 ms (${CONNECTIONS} conn)`]: x.loadedMs.p50,
    [`p99 ms (${CONNECTIONS} conn)`]: x.loadedMs.p99,
    "p50 ms (1 conn)": x.oneConnMs.p50,
    "p99 ms (1 conn)": x.oneConnMs.p99,
    "added p50 ms": x === d ? "-" : (x.oneConnMs.p50 - d.oneConnMs.p50).toFixed(3),
    "added p99 ms": x === d ? "-" : (x.oneConnMs.p99 - d.oneConnMs.p99).toFixed(3),
  });
  printTable(
    `Port proxy: keep-alive POST with a ${BODY_BYTES} B body, wrk ${SECONDS} s at ${CONNECTIONS} connections and ${LAT_SECONDS} s at 1, median of ${REPEAT} runs`,
    [
      row("warren (embedded, Engine.dial)", w),
      row(`direct (${backend.ip}:${BACKEND_PORT})`, d),
      row("nginx 1 worker, upstream keepalive", n),
      row("bare node:http proxy (reference)", f),
    ],
  );
  console.log(
    `warren/nginx req/s per proxy core: ${result.perCoreRatioVsNginx.toFixed(2)}x (target >= 0.5x); ` +
      `added p50 ${result.addedMs.warren.p50.toFixed(3)} ms (target <= 0.3 ms), p99 ${result.addedMs.warren.p99.toFixed(3)} ms; ` +
      `nginx adds p50 ${result.addedMs.nginx.p50.toFixed(3)} ms, p99 ${result.addedMs.nginx.p99.toFixed(3)} ms`,
  );
  console.log(
    `bare node:http proxy/nginx req/s per core: ${result.nodeFloorPerCoreRatioVsNginx.toFixed(2)}x, added p50 ${result.addedMs.nodeFloor.p50.toFixed(3)} ms`,
  );
  console.log(`wrote ${writeResults("proxy", result)}`);
} finally {
  for (const c of running) c.kill("SIGKILL");
  await nginx?.stop();
  if (floor && floor.exitCode === null && floor.signalCode === null) {
    const exited = once(floor, "exit");
    floor.kill("SIGTERM"); // by pid: the child we started
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  }
  backend?.close();
  // Node writes the profile only on a clean exit, so stop the daemon with SIGTERM first.
  const dm = h.daemon;
  if (args["cpu-prof"] && dm && dm.exitCode === null) {
    const exited = new Promise((r) => dm.once("exit", r));
    dm.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  }
  await h.teardown();
  const left = h.leftovers();
  if (left.length > 0) console.error(`left behind: ${left.join(", ")}`);
}
