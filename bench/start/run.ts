// bench/start: create-to-first-exec and stop-then-start of Warren environments, beside podman
// (run --rm, start -a) on the same image and bare `runc run` / `crun run` as the floor.
// Run by hand as root: node bench/start/run.ts [--runs 50] [--runtime crun|runc|gvisor|all]
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ApiClient } from "@warren/protocol";
import { buildSpec, withDefaultMounts, withNamespaces, withProcess, withRootfs } from "@warren/runner";
import { makeHarness } from "@warren/testing/e2e-harness";
import { execOnce } from "../lib/exec-once.ts";
import { ensurePodmanImage, layerDirOfBase, PODMAN_FLAGS, sh } from "../lib/podman.ts";
import { printTable, type Series, summarize, timeMs, writeResults } from "../lib/stats.ts";
import { poolSeries } from "./pool.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "50" }, runtime: { type: "string", default: "all" } },
});
const RUNS = Number(values.runs);
const RUNTIMES = values.runtime === "all" ? ["crun", "runc"] : [values.runtime!];

async function warrenSeries(client: ApiClient, runtime: string): Promise<Series[]> {
  const create: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `b-${runtime}-${i}`;
    create.push(
      await timeMs(async () => {
        await client.createEnvironment({ name, runtime: runtime as "crun", disk: "1g", memory: "512m" });
        await execOnce(client, name, ["true"]);
      }),
    );
    await client.stopEnvironment(name, 0);
    start.push(await timeMs(() => client.startEnvironment(name)));
    await client.deleteEnvironment(name, true);
  }
  return [
    { name: `warren ${runtime}: create-to-first-exec`, samplesMs: create },
    { name: `warren ${runtime}: start stopped env`, samplesMs: start },
  ];
}

async function podmanSeries(layerDir: string): Promise<Series[]> {
  const img = ensurePodmanImage(layerDir);
  const run: number[] = [];
  for (let i = 0; i < RUNS; i++)
    run.push(await timeMs(() => sh("podman", ["run", "--rm", ...PODMAN_FLAGS, img, "true"])));
  spawnSync("podman", ["rm", "-f", "warren-bench"]);
  sh("podman", ["create", "--name", "warren-bench", ...PODMAN_FLAGS, img, "true"]);
  const start: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++)
      start.push(await timeMs(() => sh("podman", ["start", "-a", "warren-bench"])));
  } catch (e) {
    // Seen on a busy host ("container state improper"): the other rows still count.
    console.error(`podman start -a skipped: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    spawnSync("podman", ["rm", "-f", "warren-bench"]);
  }
  return [
    { name: "podman run --rm IMAGE true", samplesMs: run },
    ...(start.length === RUNS ? [{ name: "podman start -a", samplesMs: start }] : []),
  ];
}

async function bareSeries(layerDir: string, nativeDir: string): Promise<Series[]> {
  const bundle = `/tmp/warren-bench-bundle-${process.pid}`;
  mkdirSync(bundle, { recursive: true });
  const spec = buildSpec(
    withRootfs(layerDir, true),
    withProcess({ args: ["/bin/true"] }),
    withNamespaces({}),
    withDefaultMounts(),
  );
  spec.linux.cgroupsPath = `/warren-bench/${process.pid}`;
  writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec));
  const out: Series[] = [];
  try {
    for (const [name, cmd, pre] of [
      ["runc run (floor)", "runc", []],
      ["crun run (floor, hybrid wrapper)", path.join(nativeDir, "warren-crun-hybrid"), []],
    ] as const) {
      const root = `${bundle}-state-${cmd.length}`;
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        samples.push(
          await timeMs(() => sh(cmd, [...pre, "--root", root, "run", "--bundle", bundle, `wb${i}`])),
        );
      }
      rmSync(root, { recursive: true, force: true });
      out.push({ name, samplesMs: samples });
    }
  } finally {
    rmSync(bundle, { recursive: true, force: true });
    for (const c of [
      "cpu",
      "cpuacct",
      "memory",
      "pids",
      "cpuset",
      "devices",
      "freezer",
      "blkio",
      "systemd",
      "unified",
    ]) {
      spawnSync("rmdir", [`/sys/fs/cgroup/${c}/warren-bench`]);
    }
  }
  return out;
}

console.log(
  `load average at start: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} (2 cores; quiet is < 0.5)`,
);
const h = await makeHarness("bench");
try {
  await h.startDaemon({ WARREN_POOL_RESYNC_MS: "100" });
  await h.client.ensureBaseImage(undefined, () => undefined);
  const layerDir = await layerDirOfBase(h.client);
  const series: Series[] = [];
  for (const rt of RUNTIMES) series.push(...(await warrenSeries(h.client, rt)));
  series.push(...(await poolSeries(h.client, RUNTIMES[0]!, RUNS)));
  series.push(...(await podmanSeries(layerDir)));
  series.push(
    ...(await bareSeries(layerDir, path.resolve(import.meta.dirname, "../../packages/runner/native/bin"))),
  );
  const rows = series.map(summarize);
  const podRun = rows.find((r) => r.name.startsWith("podman run"))!.p50;
  const podStart = rows.find((r) => r.name.startsWith("podman start"))?.p50 ?? Number.NaN;
  // The runtime's own floor, from this same run: bare `crun run` / `runc run` of `true`.
  const floorOf = (name: string) =>
    rows.find((r) => r.name.startsWith(name.includes("runc") ? "runc run" : "crun run"))?.p50;
  const table = rows.map((r) => {
    const floor = r.name.startsWith("warren") ? floorOf(r.name) : undefined;
    return {
      benchmark: r.name,
      runs: r.n,
      "p50 ms": r.p50,
      "p99 ms": r.p99,
      "p50 / podman": r.name.includes("start") ? r.p50 / podStart : r.p50 / podRun,
      "p50 / floor": floor ? r.p50 / floor : "",
    };
  });
  printTable(`bench/start (${RUNS} runs each)`, table);
  for (const r of rows.filter((x) => x.name.endsWith("start stopped env"))) {
    const floor = floorOf(r.name);
    console.log(
      `${r.name}: p50 ${r.p50.toFixed(1)} ms (target <= 50) = ${floor ? (r.p50 / floor).toFixed(1) : "?"}x its runtime floor (${floor?.toFixed(1)} ms)`,
    );
  }
  for (const r of rows.filter((x) => x.name.includes("warm pool")))
    console.log(
      `${r.name}: p50 ${r.p50.toFixed(1)} ms (target <= 30) = ${(r.p50 / podRun).toFixed(2)}x podman run (target <= 0.2)`,
    );
  const file = writeResults(values.runtime === "all" ? "start" : `start-${values.runtime}`, {
    date: new Date().toISOString(),
    runs: RUNS,
    loadavg: os.loadavg(),
    results: rows,
  });
  console.log(`\nwrote ${file}`);
} finally {
  await h.teardown();
}
