// bench/up-repo: `warren up --repo URL` to a ready shell, beside the reference `devcontainer up
// --docker-path podman` on the same repository in the same run: a Dockerfile FROM an image in a
// local registry plus one local Feature with an option, served by a local git server.
// Cases: cold (first build), image cached, Dockerfile build cached (a new environment from the
// same repository), and a stopped environment started again. Runs alternate Warren and the
// reference, so a change in the machine's load hits both alike.
// Run by hand as root: node bench/up-repo/run.ts [--runs 3] [--skip warren|reference]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { makeHarness } from "@warren/testing/e2e-harness";
import { startGitServers } from "@warren/testing/git-servers";
import { buildBaseImageCached } from "@warren/testing/oci-layout";
import { startRegistry } from "@warren/testing/registry";
import { layerDirOfBase } from "../lib/podman.ts";
import { percentile, printTable, writeResults } from "../lib/stats.ts";
import { check, makeReference, type Run, tail, timed } from "./reference.ts";
import { DOCKERFILE_CHECK, IMAGE_CHECK, IMAGE_CONFIG, sampleRepoFiles } from "./sample-repo.ts";
import { type StepTimes, warrenSide } from "./warren-side.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, skip: { type: "string" } },
});
const RUNS = Number(values.runs);
const doWarren = values.skip !== "warren";
const doRef = values.skip !== "reference";
if (process.getuid?.() !== 0) throw new Error("bench/up-repo needs root (netns, podman, the daemon)");

type Side = "warren" | "reference";
const samples = new Map<string, number[]>();
const failures: { case: string; side: Side; command: string; stderr: string }[] = [];
const stepTimes: Record<string, StepTimes[]> = {};
const warrenLogs: Record<string, string[]> = {};
const add = (key: string, ms: number) => samples.set(key, [...(samples.get(key) ?? []), ms]);

/** Times one step; a failure is recorded with its command and stderr, and the bench goes on. */
async function measure(key: string, side: Side, step: () => Promise<Run | { ms: number; runs: Run[] }>) {
  const r = await step().catch((err: Error) => ({
    status: 1,
    ms: 0,
    line: key,
    stdout: "",
    stderr: err.message,
  }));
  const runs = "runs" in r ? r.runs : [r];
  const bad = runs.find((x) => x.status !== 0);
  if (bad) {
    failures.push({ case: key, side, command: bad.line, stderr: tail(bad.stderr || bad.stdout) });
    console.log(`  ${side} ${key}: FAILED (${bad.line})\n${tail(bad.stderr || bad.stdout, 1200)}`);
    return false;
  }
  add(`${side}:${key}`, r.ms);
  console.log(`  ${side} ${key}: ${(r.ms / 1000).toFixed(2)} s`);
  return true;
}

/** An untimed check that the environment has everything the configuration asked for. */
async function verify(key: string, side: Side, run: Promise<Run>) {
  const r = await run;
  if (r.status !== 0)
    failures.push({
      case: `${key} (content check)`,
      side,
      command: r.line,
      stderr: tail(r.stderr || r.stdout),
    });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "warren-bench-up-repo-"));
const undo: (() => Promise<unknown>)[] = [];
const loadBefore = os.loadavg();
try {
  const registry = await startRegistry();
  undo.push(() => registry.stop());
  const git = await startGitServers();
  undo.push(() => git.cleanup());
  const ref = makeReference(path.join(tmp, "podman"), registry.host);
  undo.push(() => ref.cleanup());
  const h = await makeHarness("up-repo");
  undo.push(() => h.teardown());
  // An image store of the run's own (the base linked from the shared test cache), so that what
  // the run pulls and builds goes with the harness's root instead of piling up in that cache.
  await buildBaseImageCached(h.root);
  const images = path.join(h.root, "images");
  // The local registry is on loopback, which the runner's pull guard refuses unless named.
  await h.startDaemon({ WARREN_REGISTRY_ALLOW: registry.host, WARREN_IMAGES: images });
  await h.client.ensureBaseImage(undefined, () => undefined);

  // The same Debian base Warren uses, pushed to the registry; then dropped from podman's store
  // so that both tools' first run pulls it.
  const base = `${registry.host}/bench/base:latest`;
  console.log(`pushing ${base} ...`);
  await ref.pushRootfs(await layerDirOfBase(h.client), base);
  check(await ref.podman(["rmi", base]));
  await git.createRepo("sample", sampleRepoFiles(base));
  const url = git.gitUrl("sample");
  const w = warrenSide(h);

  let folders = 0;
  /** The reference's "new environment": a fresh clone (timed, as Warren's clone is) and `up`. */
  const refNew = async (key: string, config?: string) => {
    const dir = path.join(tmp, `ref-${folders++}`);
    const ok = await measure(key, "reference", async () => {
      const clone = check(await timed("git", ["clone", "-q", "--depth", "1", url, dir], process.env));
      const up = await ref.up(dir, config);
      return { ms: clone.ms + up.ms, runs: [clone, up] };
    });
    if (!ok) return dir;
    await verify(
      key,
      "reference",
      ref
        .containerOf(dir)
        .then((id) => ref.podman(["exec", id, "sh", "-c", config ? IMAGE_CHECK : DOCKERFILE_CHECK])),
    );
    const exec = await ref.exec(dir, ["true"], config);
    if (exec.status === 0) add(`reference:${key}:exec`, exec.ms);
    return dir;
  };
  const warrenNew = async (key: string, name: string, config?: string) => {
    const t0 = Date.now();
    const ok = await measure(key, "warren", () => w.upRepo(url, name, config));
    const { steps, lines } = await w.steps(name, t0).catch(() => ({ steps: [], lines: [] }));
    stepTimes[name] = steps;
    // The first of each case in full (seconds from the CLI's start), to show where time goes.
    if (!warrenLogs[key]) warrenLogs[key] = lines.slice(0, 400);
    console.log(
      `    steps (s from start): ${steps.map((s) => `${s.step} ${s.firstS.toFixed(1)}-${s.lastS.toFixed(1)}`).join(", ")}`,
    );
    if (ok)
      await verify(
        key,
        "warren",
        w.cli(["exec", name, "--", "sh", "-c", config ? IMAGE_CHECK : DOCKERFILE_CHECK]),
      );
    return ok;
  };

  console.log("cold: first up (pulls the base, builds the Dockerfile and the Feature)");
  if (doWarren) await warrenNew("cold", "cold-0");
  if (doRef) await refNew("cold");

  const keepW: string[] = [];
  const keepR: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    console.log(`run ${i + 1}/${RUNS}`);
    if (doWarren && (await warrenNew("dockerfile-cached", `df-${i}`))) keepW.push(`df-${i}`);
    if (doRef) keepR.push(await refNew("dockerfile-cached"));
    if (doWarren) await warrenNew("image-cached", `img-${i}`, IMAGE_CONFIG);
    const imgDir = doRef ? await refNew("image-cached", IMAGE_CONFIG) : undefined;
    // Keep the machine's load down: one environment of each kind per side stays.
    if (i > 0) {
      if (doWarren) for (const n of [`df-${i}`, `img-${i}`]) await w.rm(n).catch(() => undefined);
      for (const d of [keepR[i], imgDir]) {
        const id = d ? await ref.containerOf(d).catch(() => undefined) : undefined;
        if (id) await ref.podman(["rm", "-f", id]);
      }
    }
  }

  console.log("stopped environment started again");
  for (let i = 0; i < RUNS; i++) {
    const name = keepW[0];
    if (doWarren && name) {
      const stop = () => w.stop(name).catch((err: Error) => console.log(`  warren stop: ${err.message}`));
      await stop();
      await measure("restart", "warren", () => w.upAgain(url, name));
      await stop();
      await measure("restart:up-name", "warren", () => w.upByName(name));
      await stop();
      await measure("restart:start+exec", "warren", () => w.startThenExec(name));
    }
    const dir = keepR[0];
    const id = doRef && dir ? await ref.containerOf(dir).catch(() => undefined) : undefined;
    if (dir && id) {
      check(await ref.podman(["stop", id]));
      await measure("restart", "reference", () => ref.up(dir));
      const exec = await ref.exec(dir, ["true"]);
      if (exec.status === 0) add("reference:restart:exec", exec.ms);
    }
  }

  const p50 = (k: string) => percentile(samples.get(k) ?? [], 50) / 1000;
  const cases: [string, string][] = [
    ["cold", "cold: first up (pull + build + Feature)"],
    ["image-cached", "image cached (devcontainer.json image:)"],
    ["dockerfile-cached", "Dockerfile + Feature build cached, new env"],
    ["restart", "stopped environment started again"],
  ];
  const rows = cases.map(([k, label]) => ({
    case: label,
    runs: (samples.get(`warren:${k}`) ?? []).length,
    "warren p50 s": p50(`warren:${k}`),
    "reference p50 s": p50(`reference:${k}`),
    "warren / ref": p50(`warren:${k}`) / p50(`reference:${k}`),
    "ref + exec p50 s": p50(`reference:${k}`) + p50(`reference:${k}:exec`),
    "warren / (ref+exec)": p50(`warren:${k}`) / (p50(`reference:${k}`) + p50(`reference:${k}:exec`)),
    target: k === "cold" ? "-" : "<= 0.5",
  }));
  rows.push({
    case: "  restart as warren up --name N -- true",
    runs: (samples.get("warren:restart:up-name") ?? []).length,
    "warren p50 s": p50("warren:restart:up-name"),
    "reference p50 s": p50("reference:restart"),
    "warren / ref": p50("warren:restart:up-name") / p50("reference:restart"),
    "ref + exec p50 s": p50("reference:restart") + p50("reference:restart:exec"),
    "warren / (ref+exec)":
      p50("warren:restart:up-name") / (p50("reference:restart") + p50("reference:restart:exec")),
    target: "<= 0.5",
  });
  rows.push({
    case: "  restart as warren start + warren exec",
    runs: (samples.get("warren:restart:start+exec") ?? []).length,
    "warren p50 s": p50("warren:restart:start+exec"),
    "reference p50 s": p50("reference:restart"),
    "warren / ref": p50("warren:restart:start+exec") / p50("reference:restart"),
    "ref + exec p50 s": p50("reference:restart") + p50("reference:restart:exec"),
    "warren / (ref+exec)":
      p50("warren:restart:start+exec") / (p50("reference:restart") + p50("reference:restart:exec")),
    target: "<= 0.5",
  });
  printTable(
    `bench/up-repo (${RUNS} runs per cached case; warren: \`warren up --repo URL -- true\`; ` +
      "reference: git clone + `devcontainer up --docker-path podman`, then `devcontainer exec true`)",
    rows,
  );
  for (const f of failures) console.log(`\nFAILED ${f.side} ${f.case}: \`${f.command}\`\n${f.stderr}`);
  const file = writeResults("up-repo", {
    date: new Date().toISOString(),
    runs: RUNS,
    loadAverage: { before: loadBefore, after: os.loadavg() },
    reference: {
      cli: "@devcontainers/cli devcontainer up --docker-path podman",
      podman:
        "runtime runc; default_ulimits nofile=20000:20000 nproc=32768:32768 (CONTAINERS_CONF in a temp dir)",
    },
    table: rows,
    samplesMs: Object.fromEntries(samples),
    warrenStepTimes: stepTimes,
    warrenLogs,
    failures,
  });
  console.log(`\nwrote ${file}`);
} finally {
  for (const fn of undo.reverse()) await fn().catch((err: Error) => console.error(`cleanup: ${err.message}`));
  rmSync(tmp, { recursive: true, force: true });
}
