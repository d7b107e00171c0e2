// The v2 driver against a temporary directory laid out like cgroupfs. (No v2 host is available
// here, so this is the only check of v2 until one is.)
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { CgroupV2Driver } from "../src/cgroups/v2.ts";

const MiB = 1024 ** 2;
const CG = "/warren/warren-ab12cd34ef56";

const GROUP_FILES: Record<string, string> = {
  "cpu.max": "max 100000\n",
  "memory.max": "max\n",
  "memory.swap.max": "max\n",
  "pids.max": "max\n",
  "memory.current": `${100 * MiB}\n`,
  "memory.stat": `anon ${60 * MiB}\nfile ${40 * MiB}\nactive_file ${10 * MiB}\ninactive_file ${30 * MiB}\n`,
  "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
  "pids.current": "3\n",
  "memory.events": "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n",
  "cpu.pressure":
    "some avg10=1.50 avg60=0.20 avg300=0.05 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
  "memory.pressure":
    "some avg10=0.25 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.10 avg60=0.00 avg300=0.00 total=5\n",
  "cgroup.procs": "",
  "cgroup.kill": "",
};

describe("cgroup v2 driver (fake cgroupfs)", () => {
  let root: string;
  let driver: CgroupV2Driver;
  let group: string;
  const readGroup = async (f: string) => (await readFile(path.join(group, f), "utf8")).trim();

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "wt-cgv2-"));
    driver = new CgroupV2Driver({ root });
    group = path.join(root, CG);
    await mkdir(group, { recursive: true });
    for (const [f, text] of Object.entries(GROUP_FILES)) await writeFile(path.join(group, f), text);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test("paths is the one unified directory under the configured root", () => {
    assert.deepEqual(driver.paths(CG), { unified: group });
    assert.throws(() => driver.paths("/warren/../etc"), /invalid cgroup path/);
    assert.throws(() => driver.paths("warren/x"), /invalid cgroup path/);
  });

  const cases = [
    {
      limits: { cpus: 0.5, memoryBytes: 512 * MiB, pids: 1000 },
      cpu: "50000 100000",
      mem: 512 * MiB,
      pids: "1000",
    },
    {
      limits: { cpus: 2, memoryBytes: 2048 * MiB, pids: 0 },
      cpu: "200000 100000",
      mem: 2048 * MiB,
      pids: "max",
    },
    { limits: { cpus: 0.001, memoryBytes: 80 * MiB, pids: 1 }, cpu: "1000 100000", mem: 80 * MiB, pids: "1" },
  ];
  for (const c of cases) {
    test(`setLimits ${JSON.stringify(c.limits)}`, async () => {
      await driver.setLimits(CG, c.limits);
      assert.equal(await readGroup("cpu.max"), c.cpu);
      assert.equal(Number(await readGroup("memory.max")), c.mem);
      assert.equal(await readGroup("memory.swap.max"), "0");
      assert.equal(await readGroup("pids.max"), c.pids);
    });
  }

  test("setLimits refuses a memory limit below the working set and changes nothing", async () => {
    await writeFile(path.join(group, "memory.max"), `${200 * MiB}\n`);
    // working set = 100Mi current - 30Mi inactive_file = 70Mi
    await assert.rejects(driver.setLimits(CG, { cpus: 1, memoryBytes: 50 * MiB, pids: 0 }), (err) => {
      assert.ok(isWarrenError(err, "INVALID_ARGUMENT"), String(err));
      assert.match(err.message, /lower the memory limit to 50Mi: the environment is using 70Mi/);
      assert.match(err.message, /stays at 200Mi/);
      return true;
    });
    assert.equal(Number(await readGroup("memory.max")), 200 * MiB);
    // Above the working set (page cache can be dropped) it is allowed.
    await driver.setLimits(CG, { cpus: 1, memoryBytes: 80 * MiB, pids: 0 });
    assert.equal(Number(await readGroup("memory.max")), 80 * MiB);
  });

  test("setLimits rejects nonsense limits", async () => {
    for (const limits of [
      { cpus: 0, memoryBytes: MiB, pids: 0 },
      { cpus: 1, memoryBytes: -1, pids: 0 },
      { cpus: 1, memoryBytes: MiB, pids: 1.5 },
    ]) {
      await assert.rejects(driver.setLimits(CG, limits), (e) => isWarrenError(e, "INVALID_ARGUMENT"));
    }
  });

  test("setLimits tolerates a host without swap accounting", async () => {
    await rm(path.join(group, "memory.swap.max"));
    await driver.setLimits(CG, { cpus: 1, memoryBytes: 512 * MiB, pids: 0 });
    assert.equal(Number(await readGroup("memory.max")), 512 * MiB);
  });

  test("usage reads cpu.stat, memory.current/stat/max, pids.current/max and memory.events", async () => {
    assert.deepEqual(await driver.usage(CG), {
      cpuUsageNs: 1_500_000,
      memoryBytes: 100 * MiB,
      memoryWorkingSetBytes: 70 * MiB,
      memoryLimitBytes: Number.MAX_SAFE_INTEGER,
      pids: 3,
      pidsLimit: Number.MAX_SAFE_INTEGER,
      oomKills: 2,
    });
    await writeFile(path.join(group, "memory.max"), `${256 * MiB}\n`);
    assert.equal((await driver.usage(CG)).memoryLimitBytes, 256 * MiB);
  });

  test("usage of a missing group says which group", async () => {
    await assert.rejects(driver.usage("/warren/absent"), /read cgroup usage of \/warren\/absent: .*ENOENT/);
  });

  test("psi reads some avg10 and gives null for a missing file", async () => {
    assert.deepEqual(await driver.psi(CG), { cpu: 1.5, memory: 0.25, io: null });
    assert.deepEqual(await driver.psi("/warren/absent"), { cpu: null, memory: null, io: null });
  });

  test("attachPsi writes the pid into the group's cgroup.procs", async () => {
    await driver.attachPsi(CG, 4242);
    assert.equal(await readGroup("cgroup.procs"), "4242");
    // A fake directory gets no control files from mkdir, unlike cgroupfs: the write must fail
    // rather than create a regular file.
    await assert.rejects(driver.attachPsi("/warren/warren-new", 4242), /attach pid 4242 .*ENOENT/);
  });

  test("killAll writes cgroup.kill and returns once cgroup.procs is empty", async () => {
    await driver.killAll(CG);
    assert.equal(await readGroup("cgroup.kill"), "1");
  });

  test("listUnder lists child groups, sorted; remove deletes a group tree and is idempotent", async () => {
    await mkdir(path.join(root, "warren/warren-zz/sub"), { recursive: true });
    await mkdir(path.join(root, "warren/warren-aa"), { recursive: true });
    assert.deepEqual(await driver.listUnder("warren"), ["warren-aa", "warren-ab12cd34ef56", "warren-zz"]);
    assert.deepEqual(await driver.listUnder("nothing-here"), []);
    await driver.remove("/warren/warren-zz");
    await driver.remove("/warren/warren-zz");
    assert.equal(existsSync(path.join(root, "warren/warren-zz")), false);
    assert.equal(existsSync(path.join(root, "warren")), true, "the parent stays");
  });

  test("ociResources: quota over a 100ms period, swap equal to the limit, pids", () => {
    assert.deepEqual(driver.ociResources({ cpus: 1.5, memoryBytes: 2048 * MiB, pids: 512 }), {
      cpu: { quota: 150000, period: 100000 },
      memory: { limit: 2048 * MiB, swap: 2048 * MiB },
      pids: { limit: 512 },
    });
    assert.deepEqual(driver.ociResources({ cpus: 1, memoryBytes: MiB, pids: 0 })["pids"], { limit: -1 });
  });
});
