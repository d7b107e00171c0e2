// bench/density: memory cost per idle environment, beside idle podman containers of the same
// image. Cost = change in (MemTotal - MemAvailable), each measured after dropping the page cache,
// over N; Warren's daemon RSS is reported too (a fixed cost shared by every environment).
// Also: time to start all N, and `warren ls` latency with N environments.
// Run by hand as root (never in CI): node bench/density/run.ts [--count 100] [--concurrency 8]
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { ApiClient } from "@warren/protocol";
import { makeHarness } from "@warren/testing/e2e-harness";
import { ensurePodmanImage, layerDirOfBase, PODMAN_FLAGS, sh } from "../lib/podman.ts";
import { printTable, summarize, timeMs, writeResults } from "../lib/stats.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "100" },
    concurrency: { type: "string", default: "8" },
    "skip-podman": { type: "boolean", default: false },
  },
});
const N = Number(values.count);
const CONCURRENCY = Number(values.concurrency);
const MiB = 1024 ** 2;

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = /^(\w+):\s+(\d+)( kB)?/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (m[3] ? 1024 : 1);
  }
  return out;
}

/** Used memory with the page cache dropped: the median of five readings, to damp other activity. */
async function usedBytes(): Promise<{ used: number; slab: number; kernelStack: number; pageTables: number }> {
  spawnSync("sync");
  writeFileSync("/proc/sys/vm/drop_caches", "3");
  await sleep(2000);
  const reads: ReturnType<typeof meminfo>[] = [];
  for (let i = 0; i < 5; i++) {
    reads.push(meminfo());
    await sleep(300);
  }
  const med = (f: (m: Record<string, number>) => number) => reads.map(f).sort((a, b) => a - b)[2]!;
  return {
    used: med((m) => m["MemTotal"]! - m["MemAvailable"]!),
    slab: med((m) => m["Slab"]!),
    kernelStack: med((m) => m["KernelStack"]!),
    pageTables: med((m) => m["PageTables"]!),
  };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Runs fn(i) for i in [0, n) with at most `limit` in flight; returns each call's duration. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = new Array(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) times[i] = await timeMs(() => fn(i));
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return times;
}

type Mem = Awaited<ReturnType<typeof usedBytes>>;
const perEnv = (a: Mem, b: Mem) => ({
  usedMiB: (b.used - a.used) / N / MiB,
  slabMiB: (b.slab - a.slab) / N / MiB,
  kernelStackMiB: (b.kernelStack - a.kernelStack) / N / MiB,
  pageTablesMiB: (b.pageTables - a.pageTables) / N / MiB,
});

async function warren(client: ApiClient, daemonPid: number) {
  const req = (name: string) => ({ name, disk: "128m" });
  // Warm-up: builds the disk template and faults in the daemon's code paths before the baseline.
  await client.createEnvironment(req("dens-warm"));
  await client.deleteEnvironment("dens-warm", true);
  const rss0 = rssBytes(daemonPid);
  const before = await usedBytes();
  let createMs: number[] = [];
  const totalMs = await timeMs(async () => {
    createMs = await pool(N, CONCURRENCY, (i) => client.createEnvironment(req(`dens-${i}`)));
  });
  const running = (await client.listEnvironments()).filter((e) => e.state === "running").length;
  if (running !== N) throw new Error(`only ${running} of ${N} environments are running`);
  await sleep(3000);
  const after = await usedBytes();
  const rss1 = rssBytes(daemonPid);
  // Cross-check that other activity on the host cannot disturb: memory charged to the
  // environments' own cgroups (after the cache drop), per environment.
  const stats = await client.stats();
  const cgroupMiB = stats.reduce((a, s) => a + s.memoryWorkingSetBytes, 0) / stats.length / MiB;
  const lsApiMs: number[] = [];
  for (let i = 0; i < 20; i++) lsApiMs.push(await timeMs(() => client.listEnvironments()));
  return { before, after, rss0, rss1, createMs, totalMs, lsApiMs, cgroupMiB };
}

/** "1.2MB / 25.1GB" -> bytes of the first figure (podman prints decimal units). */
function parseMem(text: string): number {
  const m = /^([\d.]+)\s*([kKMGT]?i?B)/.exec(text.trim());
  if (!m) return 0;
  const unit: Record<string, number> = {
    B: 1,
    kB: 1e3,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    KiB: 1024,
    MiB: MiB,
    GiB: 1024 * MiB,
  };
  return Number(m[1]) * (unit[m[2]!] ?? 1);
}

async function podman(layerDir: string) {
  const img = ensurePodmanImage(layerDir);
  const names = Array.from({ length: N }, (_, i) => `warren-dens-${i}`);
  spawnSync("podman", ["rm", "-f", "-t", "0", ...names], { stdio: "ignore" });
  // Warm-up, as for Warren.
  sh("podman", ["run", "-d", "--name", "warren-dens-warm", ...PODMAN_FLAGS, img, "sleep", "infinity"]);
  sh("podman", ["rm", "-f", "-t", "0", "warren-dens-warm"]);
  const before = await usedBytes();
  let createMs: number[] = [];
  try {
    const totalMs = await timeMs(async () => {
      // Sequential: parallel `podman run` contends on its own locks and only adds noise here.
      createMs = await pool(N, 1, async (i) =>
        sh("podman", ["run", "-d", "--name", names[i]!, ...PODMAN_FLAGS, img, "sleep", "infinity"]),
      );
    });
    await sleep(3000);
    const after = await usedBytes();
    // The same cross-check as Warren's: memory charged to the containers' cgroups (conmon, one
    // per container, lives outside them and is not included).
    const ps = JSON.parse(sh("podman", ["stats", "--no-stream", "--format", "json"])) as {
      mem_usage: string;
    }[];
    const cgroupMiB = ps.reduce((a, c) => a + parseMem(c.mem_usage), 0) / ps.length / MiB;
    const conmon = sh("sh", ["-c", "ps -C conmon -o rss= | awk '{s+=$1} END {print s+0}'"]);
    return { before, after, createMs, totalMs, cgroupMiB, conmonRssMiB: Number(conmon) / 1024 / N };
  } finally {
    for (let i = 0; i < N; i += 20) {
      spawnSync("podman", ["rm", "-f", "-t", "0", ...names.slice(i, i + 20)], { stdio: "ignore" });
    }
  }
}

const h = await makeHarness("density");
let result: Record<string, unknown> = {};
try {
  // The harness's id block holds 63 environments; this needs N, each a 65,536-id slot, in a
  // block of its own above the test blocks (and below 2^32).
  const slots = N + 2;
  await h.startDaemon({ WARREN_ID_RANGE: `${4_294_967_296 - (slots + 1) * 65536}:${slots * 65536}` });
  await h.client.ensureBaseImage(undefined, () => undefined);
  const layerDir = await layerDirOfBase(h.client);
  const w = await warren(h.client, h.daemon!.pid!);
  const lsCliMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    lsCliMs.push(
      await timeMs(() => {
        if (h.cli(["ls"]).status !== 0) throw new Error("warren ls failed");
      }),
    );
  }
  const teardownMs = await timeMs(() =>
    pool(N, CONCURRENCY, (i) => h.client.deleteEnvironment(`dens-${i}`, true)),
  );
  const wPer = perEnv(w.before, w.after);
  const warrenOut = {
    perEnv: wPer,
    daemonRssMiB: { beforeEnvs: w.rss0 / MiB, withEnvs: w.rss1 / MiB },
    perEnvInclDaemonMiB: wPer.usedMiB + w.rss0 / N / MiB,
    cgroupChargedMiBPerEnv: w.cgroupMiB,
    startAllMs: w.totalMs,
    create: summarize({ name: "warren create (running)", samplesMs: w.createMs }),
    lsApi: summarize({ name: "GET /environments", samplesMs: w.lsApiMs }),
    lsCli: summarize({ name: "warren ls (CLI process)", samplesMs: lsCliMs }),
    removeAllMs: teardownMs,
  };
  result = { date: new Date().toISOString(), count: N, concurrency: CONCURRENCY, warren: warrenOut };
  if (!values["skip-podman"]) {
    const p = await podman(layerDir);
    const pPer = perEnv(p.before, p.after);
    result["podman"] = {
      flags: PODMAN_FLAGS,
      perContainer: pPer,
      cgroupChargedMiBPerContainer: p.cgroupMiB,
      conmonRssMiBPerContainer: p.conmonRssMiB,
      startAllMs: p.totalMs,
      create: summarize({ name: "podman run -d", samplesMs: p.createMs }),
    };
    result["ratio"] = { warrenPerEnvOverPodman: wPer.usedMiB / pPer.usedMiB };
  }
  const rows: Record<string, string | number>[] = [
    { figure: "warren MiB / env (MemTotal-MemAvailable)", value: wPer.usedMiB },
    { figure: "warren MiB / env incl. daemon RSS / N", value: warrenOut.perEnvInclDaemonMiB },
    { figure: "warren daemon RSS MiB (with N envs)", value: w.rss1 / MiB },
    { figure: "warren cgroup-charged MiB / env", value: w.cgroupMiB },
    { figure: `warren start all ${N} (s, concurrency ${CONCURRENCY})`, value: w.totalMs / 1000 },
    { figure: "warren ls p50 ms (API)", value: warrenOut.lsApi.p50 },
    { figure: "warren ls p50 ms (CLI process)", value: warrenOut.lsCli.p50 },
  ];
  const pod = result["podman"] as { perContainer: { usedMiB: number }; startAllMs: number } | undefined;
  if (pod) {
    rows.push({ figure: "podman MiB / container", value: pod.perContainer.usedMiB });
    const pp = result["podman"] as { cgroupChargedMiBPerContainer: number; conmonRssMiBPerContainer: number };
    rows.push({ figure: "podman cgroup-charged MiB / container", value: pp.cgroupChargedMiBPerContainer });
    rows.push({ figure: "podman conmon RSS MiB / container", value: pp.conmonRssMiBPerContainer });
    rows.push({ figure: `podman start all ${N} (s, sequential)`, value: pod.startAllMs / 1000 });
    rows.push({ figure: "warren / podman per-env cost", value: wPer.usedMiB / pod.perContainer.usedMiB });
  }
  printTable(`bench/density (${N} idle environments)`, rows);
  console.log(`\nwrote ${writeResults("density", result)}`);
} finally {
  await h.teardown();
  const left = h.leftovers();
  if (left.length > 0) console.error(`leftovers after teardown: ${left.join(", ")}`);
}
