// bench/ssh: Warren's SSH gateway beside OpenSSH's sshd running inside the same environment,
// both driven by the host's OpenSSH client in the same run (peers alternate, medians reported):
// - `scp` of a file of random bytes up into the environment and back down (sha256 checked);
// - the interactive round trip: one byte echoed by `cat` in a persistent session, through a pty
//   (`ssh -tt`, raw mode) and through plain pipes (`ssh -T`), p50/p99;
// - the time of `ssh ENV true`, for context.
// Targets: scp throughput >= 0.5x sshd; added round trip <= 1 ms at p50.
//
// Run by hand as root: node bench/ssh/run.ts [--mib 1024] [--repeat 3] [--round-trips 1000] [--cpu-prof DIR]
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { makeHarness } from "@warren/testing/e2e-harness";
import { percentile, printTable, writeResults } from "../lib/stats.ts";
import { cgroupCpuMs, processCpuMs } from "./cpu.ts";
import {
  children,
  connectMs,
  echoRoundTrips,
  makeRandomFile,
  negotiated,
  type Peer,
  scpMs,
  sha256File,
} from "./measure.ts";
import { type SshdPeer, startSshdInEnv } from "./sshd-in-env.ts";

const { values: args } = parseArgs({
  options: {
    mib: { type: "string", default: "1024" },
    repeat: { type: "string", default: "3" },
    "round-trips": { type: "string", default: "1000" },
    // Writes a V8 CPU profile of the daemon (gateway and embedded runner) into this directory.
    "cpu-prof": { type: "string" },
  },
});
const MIB = Number(args.mib);
const REPEAT = Number(args.repeat);
const ROUND_TRIPS = Number(args["round-trips"]);
const ENV = "bench-ssh";
const SSHD_PORT = 2200;
const REMOTE_FILE = "/root/bench-ssh.bin";

const h = await makeHarness("bench-ssh");
let sshd: SshdPeer | undefined;
// Ctrl-C ends our ssh/scp children; the await they fail lands in the finally below, which
// tears the daemon, environment, firewall pinhole and files down.
process.once("SIGINT", () => {
  for (const c of children) c.kill("SIGKILL");
});

try {
  await h.startDaemon(
    args["cpu-prof"] ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(args["cpu-prof"])}` } : {},
  );
  console.log(`daemon up (root ${h.root}); creating ${ENV}`);
  const up = h.cli([
    "up",
    "--name",
    ENV,
    "--memory",
    "2g",
    "--disk",
    `${Math.max(4, Math.ceil((MIB * 3) / 1024) + 2)}g`,
    "--detach",
  ]);
  if (up.status !== 0) throw new Error(`warren up: ${up.stderr}`);

  const key = `${h.root}/id_ed25519`;
  if (spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status !== 0)
    throw new Error("ssh-keygen failed");
  const added = h.cli(["ssh-key", "add", `${key}.pub`]);
  if (added.status !== 0) throw new Error(`warren ssh-key add: ${added.stderr}`);
  const gw = await h.client.sshGateway();
  if (!gw.listening) throw new Error("the daemon's SSH gateway is not listening");

  console.log("installing and starting sshd inside the environment");
  sshd = startSshdInEnv(h, ENV, readFileSync(`${key}.pub`, "utf8"), SSHD_PORT);
  const knownHosts = `${h.root}/known_hosts`;
  writeFileSync(
    knownHosts,
    `[127.0.0.1]:${gw.port} ${gw.hostKey}\n[${sshd.ip}]:${sshd.port} ${sshd.hostKey}\n`,
  );
  const peers: Peer[] = [
    { name: "gateway", user: ENV, host: "127.0.0.1", port: gw.port, key, knownHosts },
    { name: "sshd", user: "root", host: sshd.ip, port: sshd.port, key, knownHosts },
  ];

  const cgroups = (await h.client.getEnvironment(ENV)).observed?.cgroupPaths;
  const daemonPid = h.daemon?.pid;
  if (!cgroups || daemonPid === undefined) throw new Error("no cgroup paths or daemon pid to account CPU to");
  const cpu = () => {
    const d = processCpuMs(daemonPid);
    return { daemon: d.user + d.sys, daemonSys: d.sys, env: cgroupCpuMs(cgroups) };
  };

  const local = `${h.root}/bench.bin`;
  console.log(`writing ${MIB} MiB of random bytes`);
  const sum = makeRandomFile(local, MIB * 1024 * 1024);

  type Run = {
    upMs: number;
    downMs: number;
    /** Server-side CPU ms for the upload plus the download: the daemon process, the environment's cgroup. */
    cpuMs: { daemon: number; daemonSys: number; env: number };
    connectMs: number[];
    rttPty: number[];
    rttPipe: number[];
  };
  const runs = new Map<string, Run[]>(peers.map((p) => [p.name, []]));
  const algos = new Map<string, { kex: string; cipher: string }>();
  for (const p of peers) algos.set(p.name, await negotiated(p));

  for (let i = 0; i < REPEAT; i++) {
    // Alternate which peer goes first, so drift on the shared host falls on both.
    for (const p of i % 2 === 0 ? peers : [...peers].reverse()) {
      const down = `${h.root}/down-${p.name}.bin`;
      const cpu0 = cpu();
      const upMs = await scpMs(p, local, `:${REMOTE_FILE}`);
      const downMs = await scpMs(p, `:${REMOTE_FILE}`, down);
      const cpu1 = cpu();
      const cpuMs = {
        daemon: cpu1.daemon - cpu0.daemon,
        daemonSys: cpu1.daemonSys - cpu0.daemonSys,
        env: cpu1.env - cpu0.env,
      };
      if (i === 0 && (await sha256File(down)) !== sum)
        throw new Error(`${p.name}: the file that came back differs from the one sent`);
      const connect: number[] = [];
      for (let k = 0; k < 5; k++) connect.push(await connectMs(p));
      const rttPty = await echoRoundTrips(p, ROUND_TRIPS, true);
      const rttPipe = await echoRoundTrips(p, ROUND_TRIPS, false);
      runs.get(p.name)!.push({ upMs, downMs, cpuMs, connectMs: connect, rttPty, rttPipe });
      const mbps = (ms: number) => (MIB / (ms / 1000)).toFixed(0);
      console.log(
        `run ${i + 1}/${REPEAT} ${p.name.padEnd(7)}: up ${mbps(upMs)} MiB/s, down ${mbps(downMs)} MiB/s, ` +
          `pty echo p50 ${(percentile(rttPty, 50) / 1000).toFixed(3)} ms`,
      );
    }
  }

  const med = (xs: number[]) => percentile(xs, 50);
  const summary = (name: string) => {
    const rs = runs.get(name)!;
    const ms = (us: number[]) => ({ p50: percentile(us, 50) / 1000, p99: percentile(us, 99) / 1000 });
    return {
      upMiBps: med(rs.map((r) => MIB / (r.upMs / 1000))),
      downMiBps: med(rs.map((r) => MIB / (r.downMs / 1000))),
      // Both directions together: 2x the file over the time of the upload plus the download.
      scpMiBps: med(rs.map((r) => (2 * MIB) / ((r.upMs + r.downMs) / 1000))),
      connectMs: med(rs.flatMap((r) => r.connectMs)),
      // Server-side CPU seconds per GiB moved (up and down together), split by where it ran.
      cpuSecPerGiB: {
        daemon: med(rs.map((r) => r.cpuMs.daemon / 1000 / ((2 * MIB) / 1024))),
        daemonSys: med(rs.map((r) => r.cpuMs.daemonSys / 1000 / ((2 * MIB) / 1024))),
        env: med(rs.map((r) => r.cpuMs.env / 1000 / ((2 * MIB) / 1024))),
      },
      rttPtyMs: ms(rs.flatMap((r) => r.rttPty)),
      rttPipeMs: ms(rs.flatMap((r) => r.rttPipe)),
      ...algos.get(name)!,
    };
  };
  const g = summary("gateway");
  const s = summary("sshd");
  const result = {
    mib: MIB,
    repeat: REPEAT,
    roundTrips: ROUND_TRIPS,
    sha256: sum,
    gateway: g,
    sshd: s,
    throughputRatio: g.scpMiBps / s.scpMiBps,
    upRatio: g.upMiBps / s.upMiBps,
    downRatio: g.downMiBps / s.downMiBps,
    addedRttMs: {
      ptyP50: g.rttPtyMs.p50 - s.rttPtyMs.p50,
      ptyP99: g.rttPtyMs.p99 - s.rttPtyMs.p99,
      pipeP50: g.rttPipeMs.p50 - s.rttPipeMs.p50,
      pipeP99: g.rttPipeMs.p99 - s.rttPipeMs.p99,
    },
    runs: Object.fromEntries(
      [...runs].map(([name, rs]) => [
        name,
        rs.map((r) => ({ upMs: r.upMs, downMs: r.downMs, cpuMs: r.cpuMs })),
      ]),
    ),
  };
  const row = (path: string, x: typeof g) => ({
    path,
    "scp up MiB/s": x.upMiBps,
    "scp down MiB/s": x.downMiBps,
    "scp MiB/s": x.scpMiBps,
    "pty rtt p50 ms": x.rttPtyMs.p50,
    "pty rtt p99 ms": x.rttPtyMs.p99,
    "pipe rtt p50 ms": x.rttPipeMs.p50,
    "pipe rtt p99 ms": x.rttPipeMs.p99,
    "ssh true ms": x.connectMs,
    "daemon CPU s/GiB": x.cpuSecPerGiB.daemon,
    "env CPU s/GiB": x.cpuSecPerGiB.env,
    cipher: x.cipher,
  });
  printTable(
    `SSH gateway vs sshd inside the same environment (scp ${MIB} MiB up and down, ${ROUND_TRIPS} echo round trips, median of ${REPEAT} runs)`,
    [row("gateway (127.0.0.1)", g), row(`sshd (${sshd.ip}:${sshd.port})`, s)],
  );
  const a = result.addedRttMs;
  console.log(
    `throughput gateway/sshd: ${result.throughputRatio.toFixed(2)}x (up ${result.upRatio.toFixed(2)}x, down ${result.downRatio.toFixed(2)}x; target >= 0.5x)`,
  );
  console.log(
    `added round trip, pty: p50 ${a.ptyP50.toFixed(3)} ms (target <= 1 ms), p99 ${a.ptyP99.toFixed(3)} ms; pipes: p50 ${a.pipeP50.toFixed(3)} ms, p99 ${a.pipeP99.toFixed(3)} ms`,
  );
  console.log(`wrote ${writeResults("ssh", result)}`);
} finally {
  for (const c of children) c.kill("SIGKILL");
  sshd?.close();
  // Node writes the profile only on a clean exit, so stop the daemon with SIGTERM first.
  const d = h.daemon;
  if (args["cpu-prof"] && d && d.exitCode === null) {
    const exited = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  }
  await h.teardown();
  const left = h.leftovers();
  if (left.length > 0) console.error(`left behind: ${left.join(", ")}`);
}
