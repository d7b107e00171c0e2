// Honest views inside an environment: with the runner's lxcfs bound over /proc/meminfo, cpuinfo,
// stat, uptime and /sys/devices/system/cpu/online, a `--memory 1g --cpus 1` environment sees
// 1 GiB and 1 CPU and an uptime that starts at its own start, on crun and runc. Procps' free and
// uptime (copied from the host with their libraries, since busybox's use sysinfo(2), which
// lxcfs cannot change) read the files as users' tools do. Then the runner restarts: the running
// environment's views keep working on the adopted lxcfs, and an lxcfs that died is replaced for
// the next start. Each check first shows the host's own value differs, so it fails without views.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { RunnerEnvSpec, RuntimeName } from "@warren/protocol";
import { runExec } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { Lxcfs, mountState, recordedLxcfsPid } from "../src/host/lxcfs.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wp${TAG}`;
const DIR = `/tmp/warren-procviews-${TAG}`;
const RUN_DIR = path.join(DIR, "run");
const IMAGE = `procviews/procps:${TAG}`;
const GIB = 1024 ** 3;
process.env["WARREN_SUBNET"] = `10.207.${randomInt(1, 250)}.0/24`;

const procpsTools = ["/usr/bin/free", "/usr/bin/uptime"];
const missing =
  process.getuid?.() !== 0
    ? "needs root"
    : !busyboxAvailable()
      ? "needs busybox-static"
      : procpsTools.some((t) => !existsSync(t))
        ? "needs procps"
        : !(process.env["PATH"] ?? "").split(":").some((d) => existsSync(path.join(d, "lxcfs")))
          ? "needs lxcfs (apt-get install lxcfs)"
          : undefined;
const skip: string | false = missing ?? false;

let engine: Engine | undefined;
const idRange = { start: 3_800_000_000 + randomInt(0, 100) * 65536 * 8, size: 65536 * 8 };
const runnerConfig = () => ({
  root: path.join(DIR, "root"),
  runDir: RUN_DIR,
  prefix: PREFIX,
  imagesDir: path.join(DIR, "images"),
  idRange,
});

/** Procps' free and uptime with every library ldd names, into /opt/procps and the lib dirs. */
async function addProcps(rootfs: string): Promise<void> {
  await mkdir(path.join(rootfs, "opt/procps"), { recursive: true });
  const libs = new Set<string>();
  for (const tool of procpsTools) {
    await copyFile(tool, path.join(rootfs, "opt/procps", path.basename(tool)));
    const out = execFileSync("ldd", [tool], { encoding: "utf8" });
    for (const m of out.matchAll(/(\/\S+\.so[^\s]*)/g)) libs.add(m[1]!);
  }
  for (const lib of libs) {
    await mkdir(path.join(rootfs, path.dirname(lib)), { recursive: true });
    await copyFile(lib, path.join(rootfs, lib));
  }
}

before(async () => {
  if (skip) return;
  await mkdir(DIR, { recursive: true });
  engine = await createRunner(runnerConfig());
  const rootfs = path.join(DIR, "image-rootfs");
  await makeBusyboxRootfs(rootfs);
  await addProcps(rootfs);
  const tar = path.join(DIR, "layer.tar");
  await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
  const builder = new LayoutBuilder(path.join(DIR, "layout"));
  const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
  await engine.importImage(await builder.write([named(img.manifest, IMAGE)]), IMAGE, () => {});
});

after(async () => {
  if (missing) return;
  await engine?.sweep(new Set()).catch(() => undefined);
  // No environment runs any more, so close() ends lxcfs and unmounts it.
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
  // Whatever close() could not: an lxcfs of this run dir, its mount.
  const pid = recordedLxcfsPid(RUN_DIR);
  try {
    if (pid !== undefined) process.kill(pid, "SIGKILL");
  } catch {}
  if ((await mountState(path.join(RUN_DIR, "lxcfs")).catch(() => "absent")) !== "absent") {
    await run("umount", ["-l", path.join(RUN_DIR, "lxcfs")], { allowFail: true });
  }
  for (const ctrl of await readdir("/sys/fs/cgroup").catch(() => [] as string[])) {
    await rmdir(path.join("/sys/fs/cgroup", ctrl, PREFIX)).catch(() => undefined);
  }
  await rm(DIR, { recursive: true, force: true });
});

let slot = 0;
function envSpec(runtime: RuntimeName): RunnerEnvSpec {
  slot++;
  return {
    id: `${TAG}pv${String(slot).padStart(4, "0")}`,
    name: `views${slot}`,
    slot,
    image: IMAGE,
    runtime,
    resources: { cpus: 1, memoryBytes: GIB, diskBytes: 128 * 1024 ** 2, pids: 256 },
  };
}

async function sh(id: string, script: string): Promise<string> {
  const r = await runExec(engine!, id, ["sh", "-c", script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout.trim();
}

/** free's "Mem:" total in bytes. */
async function freeTotal(id: string): Promise<number> {
  const line = (await sh(id, "/opt/procps/free -b")).split("\n").find((l) => l.startsWith("Mem:"));
  return Number(line?.split(/\s+/)[1]);
}

const hostUptime = async () => Number((await readFile("/proc/uptime", "utf8")).split(" ")[0]);

async function checkViews(id: string): Promise<string> {
  // The host differs on every count, so each check below fails without the views.
  assert.ok(os.totalmem() > 2 * GIB && os.cpus().length > 1 && (await hostUptime()) > 120);
  const total = await freeTotal(id);
  assert.ok(Math.abs(total - GIB) <= GIB * 0.01, `free -b shows ${total} bytes, want about 1 GiB`);
  assert.equal(await sh(id, "grep -c ^processor /proc/cpuinfo"), "1");
  assert.equal(await sh(id, "cat /sys/devices/system/cpu/online"), "0");
  assert.equal(await sh(id, "grep -c '^cpu[0-9]' /proc/stat"), "1");
  const up = Number((await sh(id, "cat /proc/uptime")).split(" ")[0]);
  assert.ok(up >= 0 && up < 60, `/proc/uptime says ${up} s, want near 0`);
  const uptime = await sh(id, "/opt/procps/uptime");
  assert.match(uptime, / up 0 min,/);
  return `free -b total ${total}, 1 CPU in cpuinfo/online/stat, /proc/uptime ${up} s (host ${await hostUptime()} s), uptime:${uptime}`;
}

for (const runtime of ["crun", "runc"] as const) {
  test(`${runtime}: a --memory 1g --cpus 1 environment sees 1 GiB, 1 CPU and its own uptime`, {
    skip,
  }, async (t) => {
    // Optional chaining: with WARREN_PROC_VIEWS=off the checks below are what fails.
    const lx = engine!.ctx.lxcfs;
    let t0 = performance.now();
    await lx?.ensure();
    const first = performance.now() - t0;
    t0 = performance.now();
    await lx?.ensure();
    t.diagnostic(
      `lxcfs ensure(): first ${first.toFixed(1)} ms, once running ${(performance.now() - t0).toFixed(2)} ms`,
    );
    const spec = envSpec(runtime);
    await engine!.ensureRunning(spec);
    t.diagnostic(await checkViews(spec.id));
  });
}

test("a runner restart keeps running environments' views; a dead lxcfs is replaced for new starts", {
  skip,
}, async () => {
  const first = envSpec("crun");
  await engine!.ensureRunning(first);
  const pid = engine!.ctx.lxcfs?.pid();
  assert.ok(pid !== undefined, "lxcfs runs once an environment started");

  // The daemon goes while an environment runs: lxcfs stays, and the next daemon adopts it.
  await engine!.close();
  assert.equal(recordedLxcfsPid(RUN_DIR), pid, "lxcfs outlived the runner");
  engine = await createRunner(runnerConfig());
  await engine.ensureRunning(first);
  await checkViews(first.id);
  const second = envSpec("runc");
  await engine.ensureRunning(second);
  assert.equal(engine.ctx.lxcfs?.pid(), pid, "the restarted runner adopted the same lxcfs");
  await checkViews(second.id);

  // lxcfs dies: the running environments lose their views (a FUSE connection is not re-pointed),
  // the next start detaches the dead mount and starts another lxcfs.
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && (await mountState(engine.ctx.lxcfs!.paths.mountDir)) === "alive"; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const third = envSpec("crun");
  await engine.ensureRunning(third);
  const next = engine.ctx.lxcfs?.pid();
  assert.ok(next !== undefined && next !== pid, "a new lxcfs serves the new start");
  await checkViews(third.id);
});

test("without lxcfs, environments still start (with the host's views)", { skip }, async () => {
  const warnings: string[] = [];
  const lx = new Lxcfs(path.join(DIR, "run-nolxcfs"), {
    binary: path.join(DIR, "no-such-lxcfs"),
    log: (msg) => warnings.push(msg),
  });
  const saved = engine!.ctx.lxcfs;
  engine!.ctx.lxcfs = lx;
  try {
    const spec = envSpec("crun");
    await engine!.ensureRunning(spec);
    assert.equal(await sh(spec.id, "grep -c ^processor /proc/cpuinfo"), String(os.cpus().length));
    await engine!.ensureStopped(spec, 1000);
    await engine!.ensureRunning(spec);
    assert.equal(warnings.length, 1, `one warning, not one per start: ${warnings.join(" | ")}`);
  } finally {
    if (saved) engine!.ctx.lxcfs = saved;
  }
});
