// Exercises the v1/hybrid driver against the real cgroupfs. Groups are made by hand the way runc
// makes them at container create, under a unique prefix, and everything is removed afterwards.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { cgroupDriver, detectCgroupMode } from "../src/cgroups/detect.ts";
import { CgroupV1Driver } from "../src/cgroups/v1.ts";

const MiB = 1024 ** 2;
const prefix = `wt${randomBytes(4).toString("hex")}`;
const mode = detectCgroupMode();
const skip = process.getuid?.() !== 0 || mode === "v2" ? "needs root on a cgroup v1 or hybrid host" : false;

describe("cgroup v1 driver on this host", { skip }, () => {
  let driver: CgroupV1Driver;
  const children: ChildProcess[] = [];
  const envPaths: string[] = [];
  let n = 0;

  before(() => {
    const d = cgroupDriver();
    assert.ok(d instanceof CgroupV1Driver);
    driver = d;
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const p of envPaths) {
      await driver.killAll(p).catch(() => {});
      await driver.remove(p).catch((e) => console.error("cleanup:", e));
    }
    for (const dir of new Set(Object.values(driver.paths(`/${prefix}`)))) {
      await rmdir(dir).catch((e) => {
        if (e.code !== "ENOENT") console.error("cleanup:", e);
      });
    }
  });

  /** Makes an environment's groups in the controllers runc would, and returns its cgroup path. */
  async function makeEnvGroup(): Promise<string> {
    const cgroupPath = `/${prefix}/${prefix}-${n++}`;
    envPaths.push(cgroupPath);
    const paths = driver.paths(cgroupPath);
    for (const c of ["memory", "cpu", "cpuacct", "pids", "freezer"])
      await mkdir(paths[c]!, { recursive: true });
    return cgroupPath;
  }

  async function join(cgroupPath: string, pid: number): Promise<void> {
    const paths = driver.paths(cgroupPath);
    for (const c of ["memory", "cpu", "cpuacct", "pids", "freezer"]) {
      await writeFile(path.join(paths[c]!, "cgroup.procs"), String(pid));
    }
  }

  function start(cmd: string, args: string[], stdio: "ignore" | "pipe" = "ignore"): ChildProcess {
    const child = spawn(cmd, args, { stdio });
    children.push(child);
    return child;
  }

  /** A node process that allocates and touches `bytes` when it reads a line, after joining the group. */
  async function startHog(cgroupPath: string, bytes: number): Promise<ChildProcess> {
    const script = `process.stdin.once("data", () => { globalThis.b = Buffer.alloc(${bytes}, 1);
      process.stdout.write("ok\\n"); setInterval(() => {}, 1000); });`;
    const hog = start(process.execPath, ["-e", script], "pipe");
    await join(cgroupPath, hog.pid!);
    hog.stdin!.write("go\n");
    return hog;
  }

  const read = async (cgroupPath: string, ctrl: string, file: string) =>
    (await readFile(path.join(driver.paths(cgroupPath)[ctrl]!, file), "utf8")).trim();

  test("memsw exists on this host (swap accounting is on)", async () => {
    const cg = await makeEnvGroup();
    assert.ok(existsSync(path.join(driver.paths(cg)["memory"]!, "memory.memsw.limit_in_bytes")));
  });

  test("a 0.5-cpu limit holds two busy loops to about half a core", async () => {
    const cg = await makeEnvGroup();
    for (let i = 0; i < 2; i++) await join(cg, start("sh", ["-c", "while :; do :; done"]).pid!);
    await driver.setLimits(cg, { cpus: 0.5, memoryBytes: 256 * MiB, pids: 100 });
    assert.equal(await read(cg, "cpu", "cpu.cfs_quota_us"), "50000");
    assert.equal(await read(cg, "cpu", "cpu.cfs_period_us"), "100000");
    assert.equal(await read(cg, "pids", "pids.max"), "100");
    const t0 = process.hrtime.bigint();
    const u0 = (await driver.usage(cg)).cpuUsageNs;
    await new Promise((r) => setTimeout(r, 2000));
    const u1 = (await driver.usage(cg)).cpuUsageNs;
    const cores = (u1 - u0) / Number(process.hrtime.bigint() - t0);
    assert.ok(cores > 0.4 && cores < 0.6, `used ${cores.toFixed(3)} cores, want 0.4-0.6`);
    const usage = await driver.usage(cg);
    assert.equal(usage.pids, 2);
    assert.equal(usage.memoryLimitBytes, 256 * MiB);
  });

  test("raising and lowering memory keeps memsw equal to the limit", async () => {
    const cg = await makeEnvGroup();
    await driver.setLimits(cg, { cpus: 1, memoryBytes: 64 * MiB, pids: 0 });
    // Raising with the limit written first would fail: the limit may not exceed memsw.
    await driver.setLimits(cg, { cpus: 1, memoryBytes: 512 * MiB, pids: 0 });
    assert.equal(Number(await read(cg, "memory", "memory.limit_in_bytes")), 512 * MiB);
    assert.equal(Number(await read(cg, "memory", "memory.memsw.limit_in_bytes")), 512 * MiB);
    assert.equal(await read(cg, "pids", "pids.max"), "max");
    await driver.setLimits(cg, { cpus: 1, memoryBytes: 128 * MiB, pids: 0 });
    assert.equal(Number(await read(cg, "memory", "memory.limit_in_bytes")), 128 * MiB);
    assert.equal(Number(await read(cg, "memory", "memory.memsw.limit_in_bytes")), 128 * MiB);
  });

  test("lowering memory below current use is refused and leaves the limit unchanged", async () => {
    const cg = await makeEnvGroup();
    await driver.setLimits(cg, { cpus: 1, memoryBytes: 256 * MiB, pids: 0 });
    const hog = await startHog(cg, 64 * MiB);
    await new Promise((r) => hog.stdout!.once("data", r));
    const used = (await driver.usage(cg)).memoryBytes;
    assert.ok(used >= 64 * MiB, `hog charged only ${used} bytes`);
    await assert.rejects(driver.setLimits(cg, { cpus: 1, memoryBytes: 16 * MiB, pids: 0 }), (err) => {
      assert.ok(isWarrenError(err, "INVALID_ARGUMENT"), String(err));
      assert.match(err.message, /cannot lower the memory limit to 16Mi: the environment is using \d/);
      assert.match(err.message, /stays at 256Mi/);
      return true;
    });
    assert.equal(Number(await read(cg, "memory", "memory.limit_in_bytes")), 256 * MiB);
    assert.equal(Number(await read(cg, "memory", "memory.memsw.limit_in_bytes")), 256 * MiB);
    assert.equal(hog.exitCode, null, "the hog must survive a refused change");
  });

  test("an allocation beyond the limit is OOM-killed and counted", async () => {
    const cg = await makeEnvGroup();
    await driver.setLimits(cg, { cpus: 1, memoryBytes: 32 * MiB, pids: 0 });
    assert.equal((await driver.usage(cg)).oomKills, 0);
    const hog = await startHog(cg, 64 * MiB);
    const [, signal] = await new Promise<[number | null, string | null]>((r) =>
      hog.once("exit", (c, s) => r([c, s])),
    );
    assert.equal(signal, "SIGKILL");
    assert.ok((await driver.usage(cg)).oomKills >= 1);
  });

  test("attachPsi puts the pid in the unified group and psi() reads numbers", async (t) => {
    if (!driver.unifiedRoot) return t.skip("pure v1: no cgroup2 mount");
    const cg = await makeEnvGroup();
    const pid = start("sleep", ["60"]).pid!;
    await join(cg, pid);
    await driver.attachPsi(cg, pid);
    await driver.attachPsi(cg, pid); // idempotent
    assert.equal(await read(cg, "unified", "cgroup.procs"), String(pid));
    const psi = await driver.psi(cg);
    for (const k of ["cpu", "memory", "io"] as const)
      assert.equal(typeof psi[k], "number", `${k}: ${psi[k]}`);
    assert.deepEqual(await driver.psi(`/${prefix}/absent`), { cpu: null, memory: null, io: null });
  });

  test("killAll empties every hierarchy, even frozen; remove leaves no directories", async () => {
    const cg = await makeEnvGroup();
    const parent = start("sh", ["-c", "read go; sleep 100 & sleep 100 & wait"], "pipe");
    await join(cg, parent.pid!);
    await driver.attachPsi(cg, parent.pid!);
    // The shell forks only after joining, so its children land in the groups too.
    parent.stdin!.write("go\n");
    for (let i = 0; i < 50 && (await read(cg, "memory", "cgroup.procs")).split("\n").length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await read(cg, "memory", "cgroup.procs")).split("\n").length, 3);
    await writeFile(path.join(driver.paths(cg)["freezer"]!, "freezer.state"), "FROZEN");
    assert.deepEqual(await driver.listUnder(prefix), envPaths.map((p) => path.basename(p)).sort());
    await driver.killAll(cg);
    for (const c of ["memory", "cpu", "pids", "unified"])
      assert.equal(await read(cg, c, "cgroup.procs"), "", c);
    await driver.remove(cg);
    for (const dir of Object.values(driver.paths(cg))) assert.equal(existsSync(dir), false, dir);
    await driver.remove(cg); // idempotent
  });
});
