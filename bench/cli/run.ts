// bench/cli: the `warren` command's wall time beside podman's, side by side in one run (the two
// alternate run by run, so load changes hit both alike), and where an exec's time goes.
// Run by hand as root, never in CI:
//
//   node bench/cli/run.ts [--runs 20] [--daemon-runs 3] [--no-build]
//
// `warren` is bin/warren as a user runs it (the bundle scripts/build-cli.ts builds, which this
// rebuilds first unless --no-build), against the bench's own isolated daemon (e2e harness). Its
// launcher is told to run the bundle (WARREN_CLI_SOURCES=0) even when someone edits a source
// file meanwhile; the freshness check it then skips is timed on its own, in-process.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { makeHarness, REPO } from "@warren/testing/e2e-harness";
import { execOnce } from "../lib/exec-once.ts";
import { layerDirOfBase } from "../lib/podman.ts";
import { percentile, printTable, timeMs, writeResults } from "../lib/stats.ts";
import { check, type Run, tail, timed } from "../up-repo/reference.ts";
import { timeDaemonRestarts } from "./daemon-restart.ts";
import { makePodmanSide } from "./podman-side.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    "daemon-runs": { type: "string", default: "3" },
    "no-build": { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
if (process.getuid?.() !== 0) throw new Error("bench/cli needs root (the daemon, podman)");
if (!(RUNS >= 1)) throw new Error(`--runs must be a positive number, not ${values.runs}`);

const WARREN = path.join(REPO, "bin/warren");
const SOURCES = path.join(REPO, "packages/cli/src/main.ts");
const DIST = path.join(REPO, "packages/cli/dist");
const NATIVE = path.join(REPO, "packages/runner/native/bin");

if (!values["no-build"])
  check(await timed(process.execPath, [path.join(REPO, "scripts/build-cli.ts")], process.env));
const { bundleIsCurrent } = await import(path.join(REPO, "packages/cli/src/bundle/launcher.ts"));
const currentBefore = bundleIsCurrent(DIST) as boolean;

const samples = new Map<string, number[]>();
const add = (k: string, ms: number) => samples.set(k, [...(samples.get(k) ?? []), ms]);
const p50 = (k: string) => percentile(samples.get(k) ?? [], 50);
const loadBefore = os.loadavg();
const h = await makeHarness("cli");
const tmp = mkdtempSync(path.join(os.tmpdir(), "warren-bench-cli-"));
let podmanSide: Awaited<ReturnType<typeof makePodmanSide>> | undefined;
try {
  await h.startDaemon();
  // The compile cache bin/warren sets, also for the rows that run the sources (as bin/warren did
  // before the bundle), so they compare like with like.
  const env = {
    ...h.env,
    WARREN_CLI_SOURCES: "0",
    NODE_COMPILE_CACHE: path.join(REPO, ".toolchain/compile-cache"),
  };
  const warren = (args: string[]) => timed(WARREN, args, env);
  check(await warren(["up", "--name", "cli-bench", "--", "true"]));
  // First, right after the build: a daemon from the sources and one from the bundle share the
  // store, so a migration someone adds to the sources meanwhile would stop the bundle's.
  try {
    const restarts = await timeDaemonRestarts(
      h,
      Number(values["daemon-runs"]),
      { sources: [process.execPath, SOURCES, "daemon"], bundle: [WARREN, "daemon"] },
      env,
    );
    for (const ms of restarts.sources) add("daemon restart to first answer (sources)", ms);
    for (const ms of restarts.bundle) add("daemon restart to first answer (bin/warren)", ms);
  } catch (err) {
    console.log(`daemon restarts not measured: ${(err as Error).message}`);
    console.log(tail(readFileSync(path.join(h.root, "daemon.log"), "utf8")));
  }
  podmanSide = await makePodmanSide(path.join(tmp, "podman"), await layerDirOfBase(h.client));
  const podman = podmanSide.podman;
  const target = await h.client.getEnvironment("cli-bench");
  const containerId = `${h.prefix}-${target.id}`;

  // Untimed: fills the compile cache and the page cache for both sides.
  for (let i = 0; i < 3; i++) {
    check(await warren(["ls"]));
    check(await warren(["exec", "cli-bench", "--", "true"]));
    check(await podman(["ps"]));
    check(await podman(["exec", "cli-bench", "true"]));
  }

  const timedOk = async (k: string, run: Promise<Run>) => add(k, check(await run).ms);
  for (let i = 0; i < RUNS; i++) {
    await timedOk("warren ls", warren(["ls"]));
    await timedOk("podman ps", podman(["ps"]));
    await timedOk("warren exec", warren(["exec", "cli-bench", "--", "true"]));
    await timedOk("podman exec", podman(["exec", "cli-bench", "true"]));
    const name = `cli-up-${i}`;
    const up = check(await warren(["up", "--name", name, "--", "true"]));
    const rm = check(await warren(["rm", "-f", name]));
    add("warren up", up.ms);
    add("warren rm", rm.ms);
    add("warren up + rm", up.ms + rm.ms);
    await timedOk("podman run --rm", podmanSide.runRm());
    // Where an exec's time goes (see README): each layer alone.
    await timedOk("node -e 0", timed(process.execPath, ["-e", "0"], env));
    await timedOk("warren --version", warren(["--version"]));
    await timedOk(
      "warren exec (sources)",
      timed(process.execPath, [SOURCES, "exec", "cli-bench", "--", "true"], env),
    );
    await timedOk("warren ls (sources)", timed(process.execPath, [SOURCES, "ls"], env));
    add(
      "exec through the API (in-process client)",
      await timeMs(() => execOnce(h.client, "cli-bench", ["true"])),
    );
    add("launcher's freshness check (in-process)", await timeMs(() => bundleIsCurrent(DIST)));
    await timedOk(
      "crun exec (runtime alone)",
      timed(
        path.join(NATIVE, "warren-crun-hybrid"),
        ["--root", path.join(h.root, "run/crun"), "exec", containerId, "/bin/true"],
        env,
      ),
    );
  }
  const currentAfter = bundleIsCurrent(DIST) as boolean;

  const pair = (label: string, w: string, p: string, target: number) => ({
    case: label,
    "warren p50 ms": p50(w),
    "podman p50 ms": p50(p),
    "warren / podman": p50(w) / p50(p),
    target: `<= ${target.toFixed(1)}`,
    met: p50(w) / p50(p) <= target ? "yes" : "NO",
  });
  const table = [
    pair("`warren ls` / `podman ps`", "warren ls", "podman ps", 1.5),
    pair("`warren exec ENV -- true` / `podman exec C true`", "warren exec", "podman exec", 1.0),
    pair(
      "`warren up -- true` + `warren rm -f` / `podman run --rm IMAGE true`",
      "warren up + rm",
      "podman run --rm",
      1.0,
    ),
  ];
  printTable(`bench/cli: ${RUNS} runs each, alternating, p50 of wall time from spawn to exit`, table);
  const layers = [
    "node -e 0",
    "warren --version",
    "warren ls",
    "warren ls (sources)",
    "warren exec",
    "warren exec (sources)",
    "exec through the API (in-process client)",
    "crun exec (runtime alone)",
    "launcher's freshness check (in-process)",
    "warren up",
    "warren rm",
    "daemon restart to first answer (sources)",
    "daemon restart to first answer (bin/warren)",
  ].map((k) => ({ series: k, "p50 ms": p50(k), "p99 ms": percentile(samples.get(k) ?? [], 99) }));
  printTable("where the time goes (same run)", layers);
  if (!currentBefore || !currentAfter) {
    console.log("\nnote: a source file changed during the run (the bundle ran anyway: WARREN_CLI_SOURCES=0)");
  }
  const file = writeResults("cli", {
    date: new Date().toISOString(),
    runs: RUNS,
    node: process.version,
    loadAverage: { before: loadBefore, after: os.loadavg() },
    bundleCurrent: { before: currentBefore, after: currentAfter },
    warren: `${WARREN} (bundle: packages/cli/dist, compile cache: .toolchain/compile-cache)`,
    podman:
      "podman --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 (private CONTAINERS_CONF and storage)",
    table,
    layers,
    samplesMs: Object.fromEntries(samples),
  });
  console.log(`\nwrote ${file}`);
} finally {
  await podmanSide?.cleanup().catch((err: Error) => console.error(`cleanup podman: ${err.message}`));
  await h.teardown();
  spawnSync("rm", ["-rf", tmp]);
}
