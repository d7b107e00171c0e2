// bench/density: memory cost of idle environments, beside idle podman containers of the same
// image, measured per process (pss.ts): the PSS of every process of each environment (each
// container plus its conmon) and the kernel memory charged to its cgroup. Host-wide
// MemAvailable is not used: on a shared host it moves by more than an idle environment costs.
// Each round starts N/2 environments, measures, starts N/2 more, measures, removes them all;
// three rounds give a median and a spread. Reported: cost per environment at N, the marginal
// cost per added environment (slope from N/2 to N, daemon growth included) and Warren's fixed
// cost (the daemon and its helpers) separately. Also the time to start all and `ls` latency.
// Run by hand as root (never in CI):
//   node bench/density/run.ts [--count 100] [--concurrency 8] [--rounds 3] [--skip-podman]
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { ApiClient } from "@warren/protocol";
import { makeHarness } from "@warren/testing/e2e-harness";
import { ensurePodmanImage, layerDirOfBase, PODMAN_FLAGS, sh } from "../lib/podman.ts";
import { printTable, summarize, timeMs, writeResults } from "../lib/stats.ts";
import { allProcesses, descendants, groupCost, pssBytes } from "./pss.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "100" },
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    "skip-podman": { type: "boolean", default: false },
  },
});
const N = Number(values.count);
const HALF = Math.floor(N / 2);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const MiB = 1024 ** 2;
const CLASS = "density";

/** Runs fn(i) for i in [from, to) with at most `limit` in flight; returns each call's duration. */
async function pool(from: number, to: number, limit: number, fn: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  let next = from;
  const worker = async () => {
    for (let i = next++; i < to; i = next++) times.push(await timeMs(() => fn(i)));
  };
  await Promise.all(Array.from({ length: Math.min(limit, to - from) }, worker));
  return times;
}

/** One reading: bytes for the measured set, and how it splits. */
interface Reading {
  count: number;
  /** Sum over environments (containers) of PSS + kmem. */
  envBytes: number;
  pssBytes: number;
  kmemBytes: number;
  processes: number;
  /** Warren's daemon and its helper processes outside every environment; 0 for podman. */
  fixedBytes: number;
}

// Settle first: a just-started environment's init may still be faulting pages in.
async function settle(): Promise<void> {
  await sleep(3000);
}

function warrenReading(prefix: string, daemonPid: number, count: number): Reading {
  const procs = allProcesses();
  // Each environment's memory cgroup is /<prefix>/<prefix>-<id> (host/names.ts).
  const groups = new Set<string>();
  for (const p of procs) {
    const m = new RegExp(`^(/${prefix}/${prefix}-[^/]+)`).exec(p.cgroup);
    if (m) groups.add(m[1]!);
  }
  if (groups.size !== count) throw new Error(`expected ${count} environment groups, found ${groups.size}`);
  let pss = 0;
  let kmem = 0;
  let n = 0;
  for (const g of groups) {
    const c = groupCost(procs, g);
    pss += c.pss;
    kmem += c.kmem;
    n += c.procs;
  }
  const inEnv = new Set(procs.filter((p) => p.cgroup.startsWith(`/${prefix}/`)).map((p) => p.pid));
  const fixed = descendants(procs, daemonPid).filter((p) => !inEnv.has(p));
  return {
    count,
    envBytes: pss + kmem,
    pssBytes: pss,
    kmemBytes: kmem,
    processes: n,
    fixedBytes: fixed.reduce((a, p) => a + pssBytes(p), 0),
  };
}

async function warrenRound(client: ApiClient, prefix: string, daemonPid: number, round: number) {
  const req = (i: number) => ({ name: `dens-${i}`, className: CLASS });
  const readings: Reading[] = [];
  let createMs: number[] = [];
  let startAllMs = 0;
  startAllMs += await timeMs(async () => {
    createMs = await pool(0, HALF, CONCURRENCY, (i) => client.createEnvironment(req(i)));
  });
  await settle();
  readings.push(warrenReading(prefix, daemonPid, HALF));
  startAllMs += await timeMs(async () => {
    createMs.push(...(await pool(HALF, N, CONCURRENCY, (i) => client.createEnvironment(req(i)))));
  });
  const running = (await client.listEnvironments()).filter((e) => e.state === "running").length;
  if (running !== N) throw new Error(`round ${round}: only ${running} of ${N} environments are running`);
  await settle();
  readings.push(warrenReading(prefix, daemonPid, N));
  const lsApiMs: number[] = [];
  for (let i = 0; i < 20; i++) lsApiMs.push(await timeMs(() => client.listEnvironments()));
  const removeAllMs = await timeMs(() =>
    pool(0, N, CONCURRENCY, (i) => client.deleteEnvironment(`dens-${i}`, true)),
  );
  return { readings, createMs, startAllMs, lsApiMs, removeAllMs };
}

interface PodCt {
  Id: string;
  State: { Pid: number; ConmonPid: number };
}

function podmanReading(names: string[]): Reading {
  const cts = JSON.parse(sh("podman", ["inspect", ...names])) as PodCt[];
  const procs = allProcesses();
  let pss = 0;
  let kmem = 0;
  let n = 0;
  for (const ct of cts) {
    const cg = procs.find((p) => p.pid === ct.State.Pid)?.cgroup;
    if (!cg?.includes(ct.Id)) throw new Error(`container ${ct.Id}: cgroup of pid ${ct.State.Pid} not found`);
    // conmon lives outside the container's cgroup; it is part of each container's cost.
    const conmon = procs.find((p) => p.pid === ct.State.ConmonPid);
    const extra = conmon && !conmon.cgroup.startsWith(cg) ? [conmon.pid] : [];
    const c = groupCost(procs, cg, extra);
    pss += c.pss;
    kmem += c.kmem;
    n += c.procs;
  }
  return {
    count: names.length,
    envBytes: pss + kmem,
    pssBytes: pss,
    kmemBytes: kmem,
    processes: n,
    fixedBytes: 0,
  };
}

async function podmanRound(img: string) {
  const names = Array.from({ length: N }, (_, i) => `warren-dens-${i}`);
  spawnSync("podman", ["rm", "-f", "-t", "0", ...names], { stdio: "ignore" });
  const readings: Reading[] = [];
  const createMs: number[] = [];
  // Sequential: parallel `podman run` contends on its own locks and only adds noise here.
  const start = (i: number) =>
    sh("podman", ["run", "-d", "--name", names[i]!, ...PODMAN_FLAGS, img, "sleep", "infinity"]);
  try {
    createMs.push(...(await pool(0, HALF, 1, async (i) => start(i))));
    await settle();
    readings.push(podmanReading(names.slice(0, HALF)));
    createMs.push(...(await pool(HALF, N, 1, async (i) => start(i))));
    await settle();
    readings.push(podmanReading(names));
  } finally {
    for (let i = 0; i < N; i += 20) {
      spawnSync("podman", ["rm", "-f", "-t", "0", ...names.slice(i, i + 20)], { stdio: "ignore" });
    }
  }
  return { readings, createMs };
}

/** Per-round figures in MiB. */
function figures(r: Reading[]) {
  const [a, b] = r as [Reading, Reading];
  return {
    perEnvAtN: b.envBytes / b.count / MiB,
    pssPerEnvAtN: b.pssBytes / b.count / MiB,
    kmemPerEnvAtN: b.kmemBytes / b.count / MiB,
    processesPerEnv: b.processes / b.count,
    marginal: (b.envBytes - a.envBytes) / (b.count - a.count) / MiB,
    // The daemon's growth is paid per added environment too; its V8 heap makes it noisy.
    marginalInclDaemon: (b.envBytes + b.fixedBytes - a.envBytes - a.fixedBytes) / (b.count - a.count) / MiB,
    fixedAtHalf: a.fixedBytes / MiB,
    fixedAtN: b.fixedBytes / MiB,
  };
}

type Fig = ReturnType<typeof figures>;
function medianSpread(rounds: Fig[], key: keyof Fig) {
  const xs = rounds.map((f) => f[key]).sort((x, y) => x - y);
  return { median: xs[Math.floor(xs.length / 2)]!, min: xs[0]!, max: xs[xs.length - 1]!, rounds: xs };
}

const h = await makeHarness("density");
let result: Record<string, unknown> = {};
try {
  // The harness's id block holds 63 environments; this needs N, each a 65,536-id slot, in a
  // block of its own above the test blocks (and below 2^32).
  const slots = N + 2;
  // A daemon with this larger id range can take longer than the harness's 20 s to listen.
  await h
    .startDaemon({ WARREN_ID_RANGE: `${4_294_967_296 - (slots + 1) * 65536}:${slots * 65536}` })
    .catch(async (e: Error) => {
      for (let i = 0; i < 120; i++) {
        if (
          await h.client.health().then(
            () => true,
            () => false,
          )
        )
          return;
        await sleep(1000);
      }
      throw e;
    });
  await h.client.ensureBaseImage(undefined, () => undefined);
  const layerDir = await layerDirOfBase(h.client);
  const daemonPid = h.daemon!.pid!;
  // Small idle environments; CPU overcommit high enough that placement admits N on this host.
  await h.client.createClass({ name: CLASS, cpus: 0.5, memory: "128m", disk: "128m", cpuOvercommit: 64 });
  // Warm-up: builds the disk template and faults in the daemon's code paths.
  await h.client.createEnvironment({ name: "dens-warm", className: CLASS });
  await h.client.deleteEnvironment("dens-warm", true);
  const wRounds = [];
  for (let r = 0; r < ROUNDS; r++) wRounds.push(await warrenRound(h.client, h.prefix, daemonPid, r));
  const lsCliMs: number[] = [];
  const wFig = wRounds.map((r) => figures(r.readings));
  const keys = Object.keys(wFig[0]!) as (keyof Fig)[];
  const warrenOut = {
    rounds: wRounds.map((r) => r.readings),
    ...Object.fromEntries(keys.map((k) => [k, medianSpread(wFig, k)])),
    startAllMs: wRounds.map((r) => r.startAllMs),
    create: summarize({ name: "warren create (running)", samplesMs: wRounds.flatMap((r) => r.createMs) }),
    lsApi: summarize({ name: "GET /environments", samplesMs: wRounds.flatMap((r) => r.lsApiMs) }),
    lsCli: summarize({ name: "warren ls (CLI process)", samplesMs: lsCliMs }),
    removeAllMs: wRounds.map((r) => r.removeAllMs),
  };
  for (let i = 0; i < 5; i++) {
    lsCliMs.push(
      await timeMs(() => {
        if (h.cli(["ls"]).status !== 0) throw new Error("warren ls failed");
      }),
    );
  }
  warrenOut.lsCli = summarize({ name: "warren ls (CLI process, 0 envs)", samplesMs: lsCliMs });
  result = {
    date: new Date().toISOString(),
    count: N,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    warren: warrenOut,
  };
  const rows: Record<string, string | number>[] = [];
  const row = (figure: string, m: ReturnType<typeof medianSpread>) =>
    rows.push({ figure, median: m.median, min: m.min, max: m.max });
  row(`warren MiB / env at ${N} (PSS + kmem)`, medianSpread(wFig, "perEnvAtN"));
  row("  of which PSS", medianSpread(wFig, "pssPerEnvAtN"));
  row("  of which cgroup kmem", medianSpread(wFig, "kmemPerEnvAtN"));
  row(`warren marginal MiB / added env (${HALF}->${N})`, medianSpread(wFig, "marginal"));
  row("  incl. the daemon's growth", medianSpread(wFig, "marginalInclDaemon"));
  row(`warren fixed MiB (daemon + helpers PSS, at ${N})`, medianSpread(wFig, "fixedAtN"));
  row("warren processes / env", medianSpread(wFig, "processesPerEnv"));
  if (!values["skip-podman"]) {
    const img = ensurePodmanImage(layerDir);
    const pRounds = [];
    for (let r = 0; r < ROUNDS; r++) pRounds.push(await podmanRound(img));
    const pFig = pRounds.map((r) => figures(r.readings));
    result["podman"] = {
      flags: PODMAN_FLAGS,
      rounds: pRounds.map((r) => r.readings),
      ...Object.fromEntries(keys.map((k) => [k, medianSpread(pFig, k)])),
      create: summarize({ name: "podman run -d", samplesMs: pRounds.flatMap((r) => r.createMs) }),
    };
    row(`podman MiB / container at ${N} (PSS incl. conmon + kmem)`, medianSpread(pFig, "perEnvAtN"));
    row("  of which PSS", medianSpread(pFig, "pssPerEnvAtN"));
    row("  of which cgroup kmem", medianSpread(pFig, "kmemPerEnvAtN"));
    row(`podman marginal MiB / added container (${HALF}->${N})`, medianSpread(pFig, "marginal"));
    row("podman processes / container (incl. conmon)", medianSpread(pFig, "processesPerEnv"));
    const ratioOf = (key: "marginal" | "marginalInclDaemon") => {
      const xs = wFig.map((w, i) => w[key] / pFig[i]!.marginal).sort((x, y) => x - y);
      return { median: xs[Math.floor(xs.length / 2)]!, min: xs[0]!, max: xs[xs.length - 1]!, rounds: xs };
    };
    const ratio = ratioOf("marginal");
    const ratioIncl = ratioOf("marginalInclDaemon");
    result["ratio"] = { warrenMarginalOverPodman: ratio, inclDaemonGrowth: ratioIncl, target: 0.5 };
    row("warren / podman marginal (target <= 0.5)", ratio);
    row("  incl. the daemon's growth", ratioIncl);
  }
  printTable(`bench/density (${N} idle environments, ${ROUNDS} rounds; MiB)`, rows);
  const w0 = wRounds[0]!;
  console.log(
    `\nwarren start all ${N}: ${(w0.startAllMs / 1000).toFixed(1)} s (concurrency ${CONCURRENCY}); ` +
      `ls p50 ${warrenOut.lsApi.p50.toFixed(1)} ms (API), ${warrenOut.lsCli.p50.toFixed(0)} ms (CLI)`,
  );
  console.log(`wrote ${writeResults("density", result)}`);
} finally {
  await h.teardown();
  const left = h.leftovers();
  if (left.length > 0) console.error(`leftovers after teardown: ${left.join(", ")}`);
}
