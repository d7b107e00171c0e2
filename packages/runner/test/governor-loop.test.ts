// The governor's loop against directories laid out like cgroupfs, v1 (cpu + cpuacct) and v2 (one
// group): what it reads, what it writes (only changed values, the burst never above the quota),
// first sight, a restarted environment, a vanished one, and an unreadable one that must not stop
// the others. The host test (governor.host.test.ts) runs the same loop against the kernel.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { CgroupDriver } from "../src/cgroups/types.ts";
import { CgroupV1Driver } from "../src/cgroups/v1.ts";
import { CgroupV2Driver } from "../src/cgroups/v2.ts";
import { parseCpuMax, readCpuGroup } from "../src/governor/cgroup-cpu.ts";
import { CpuGovernor, type GovernedEnv } from "../src/governor/loop.ts";
import { governorSettings } from "../src/governor/settings.ts";
import { cpuGovernorView } from "../src/governor/view.ts";

const A = "/wg/wg-aaaaaaaaaaaa";
const B = "/wg/wg-bbbbbbbbbbbb";

/** One environment's group in a fake cgroupfs, as the runtime leaves it: quota = cpus, share 1024. */
class FakeGroup {
  usageNs = 0;
  throttled = 0;
  readonly mode: "v1" | "v2";
  readonly cg: CgroupDriver;
  readonly cgroupPath: string;
  constructor(mode: "v1" | "v2", cg: CgroupDriver, cgroupPath: string) {
    this.mode = mode;
    this.cg = cg;
    this.cgroupPath = cgroupPath;
  }
  get cfsDir(): string {
    const p = this.cg.paths(this.cgroupPath);
    return (this.mode === "v1" ? p["cpu"] : p["unified"]) as string;
  }
  get usageDir(): string {
    const p = this.cg.paths(this.cgroupPath);
    return (this.mode === "v1" ? p["cpuacct"] : p["unified"]) as string;
  }
  async make(cpus: number): Promise<void> {
    await mkdir(this.cfsDir, { recursive: true });
    await mkdir(this.usageDir, { recursive: true });
    const quota = Math.round(cpus * 100_000);
    const files: Record<string, string> =
      this.mode === "v1"
        ? { "cpu.shares": "1024\n", "cpu.cfs_quota_us": `${quota}\n`, "cpu.cfs_burst_us": "0\n" }
        : { "cpu.weight": "100\n", "cpu.max": `${quota} 100000\n`, "cpu.max.burst": "0\n" };
    for (const [f, v] of Object.entries(files)) await writeFile(path.join(this.cfsDir, f), v);
    await this.flush();
  }
  /** Adds `cores` × `ms` of CPU time and `periods` throttled periods, then writes the counters. */
  async run(cores: number, ms: number, periods: number): Promise<void> {
    this.usageNs += Math.round(cores * ms * 1e6);
    this.throttled += periods;
    await this.flush();
  }
  async flush(): Promise<void> {
    if (this.mode === "v1") {
      await writeFile(path.join(this.usageDir, "cpuacct.usage"), `${this.usageNs}\n`);
      await writeFile(
        path.join(this.cfsDir, "cpu.stat"),
        `nr_periods ${this.throttled * 2}\nnr_throttled ${this.throttled}\nthrottled_time ${this.throttled * 5e6}\n`,
      );
    } else {
      await writeFile(
        path.join(this.cfsDir, "cpu.stat"),
        `usage_usec ${Math.round(this.usageNs / 1000)}\nuser_usec 0\nsystem_usec 0\n` +
          `nr_periods ${this.throttled * 2}\nnr_throttled ${this.throttled}\nthrottled_usec ${this.throttled * 5000}\n`,
      );
    }
  }
  async read(f: "share" | "quota" | "burst"): Promise<number> {
    const name = {
      v1: { share: "cpu.shares", quota: "cpu.cfs_quota_us", burst: "cpu.cfs_burst_us" },
      v2: { share: "cpu.weight", quota: "cpu.max", burst: "cpu.max.burst" },
    }[this.mode][f];
    const text = await readFile(path.join(this.cfsDir, name), "utf8");
    return f === "quota" && this.mode === "v2" ? (parseCpuMax(text) as number) : Number(text.trim());
  }
  /** Ages every CFS file's mtime, so a later write shows. */
  async age(): Promise<void> {
    for (const f of this.mode === "v1"
      ? ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_burst_us"]
      : ["cpu.weight", "cpu.max", "cpu.max.burst"])
      await utimes(path.join(this.cfsDir, f), 1, 1);
  }
  async written(): Promise<string[]> {
    const out: string[] = [];
    for (const f of this.mode === "v1"
      ? ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_burst_us"]
      : ["cpu.weight", "cpu.max", "cpu.max.burst"])
      if ((await stat(path.join(this.cfsDir, f))).mtimeMs > 1000) out.push(f);
    return out;
  }
}

for (const mode of ["v1", "v2"] as const) {
  describe(`governor loop on a fake ${mode} cgroupfs`, () => {
    let root: string;
    let cg: CgroupDriver;
    let a: FakeGroup;
    let b: FakeGroup;
    let clock = 0;
    let hostBusy = 0;
    let envs: GovernedEnv[];
    let errors: { err: unknown; envId: string | undefined }[];
    let gov: CpuGovernor;

    /** Advances 1 s in which the host was busy for `hostCores`. */
    const second = (hostCores: number) => {
      clock += 1000;
      hostBusy += hostCores;
    };

    beforeEach(async () => {
      root = await mkdtemp(path.join(tmpdir(), `wt-gov-${mode}-`));
      cg =
        mode === "v1"
          ? new CgroupV1Driver({
              hierarchies: { cpu: path.join(root, "cpu"), cpuacct: path.join(root, "cpuacct") },
              unifiedRoot: null,
            })
          : new CgroupV2Driver({ root });
      a = new FakeGroup(mode, cg, A);
      b = new FakeGroup(mode, cg, B);
      await a.make(0.5);
      await b.make(1);
      envs = [
        { id: "aaaaaaaaaaaa", cpus: 0.5, cgroupPath: A },
        { id: "bbbbbbbbbbbb", cpus: 1, cgroupPath: B },
      ];
      clock = 0;
      hostBusy = 100;
      errors = [];
      gov = new CpuGovernor({
        cgroups: cg,
        hostCores: 2,
        // Budget 1.75 cores: A's burst is 1, B's 2 capped at 1.75.
        settings: governorSettings(2, { tickMs: 1000, reserveCores: 0.25, burstFactor: 2 }, {}),
        listEnvs: async () => envs,
        hostBusySeconds: () => hostBusy,
        now: () => clock,
        onError: (err, envId) => errors.push({ err, envId }),
      });
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    test("the first tick takes a baseline; a throttled env on an idle host gets its burst, burst = quota", async () => {
      await a.age();
      await b.age();
      await gov.tick();
      assert.deepEqual([...(await a.written()), ...(await b.written())], [], "no delta yet, no decision");
      assert.equal(gov.memory("aaaaaaaaaaaa"), undefined);

      second(0.6);
      await a.run(0.5, 1000, 10);
      await b.run(0.1, 1000, 0);
      await gov.tick();
      assert.equal(
        await a.read("share"),
        mode === "v1" ? 512 : 50,
        "the base share: cpus × 1024 (v1), × 100 (v2)",
      );
      assert.equal(await a.read("quota"), 100_000, "A's cap is its burst: 2 × 0.5 cores");
      assert.equal(await a.read("burst"), 100_000, "the CFS burst follows the quota");
      const bFile = mode === "v1" ? "cpu.cfs_burst_us" : "cpu.max.burst";
      assert.deepEqual(await b.written(), [bFile], "B's share and quota were already right: only its burst");
      assert.equal(await b.read("quota"), 100_000);
      const m = gov.memory("aaaaaaaaaaaa");
      assert.equal(m?.granted, true);
      assert.equal(m?.burstGrantsTotal, 1);
      assert.equal(m?.burstCores, 1);
      assert.equal(gov.memory("bbbbbbbbbbbb")?.burstCores, 1.75, "a burst is capped at the budget");
      assert.equal(gov.totals.grants, 1);
      assert.match(m?.explanation ?? "", /burst granted/);

      const view = await cpuGovernorView(cg, gov, "aaaaaaaaaaaa", A, 0.5);
      assert.deepEqual(
        { ...view, explanation: undefined },
        {
          governed: true,
          limitCores: 1,
          baseCores: 0.5,
          burstCores: 1,
          granted: true,
          burstGrantsTotal: 1,
          throttledPeriodsTotal: 10,
          throttledSecondsTotal: 0.05,
          explanation: undefined,
        },
      );

      // The host goes over its budget: the grant goes back, the burst down before the quota.
      await b.age();
      second(1.9);
      await a.run(1, 1000, 3);
      await b.run(0.9, 1000, 0);
      await gov.tick();
      assert.equal(await a.read("quota"), 50_000);
      assert.ok((await a.read("burst")) <= 50_000);
      assert.equal(gov.totals.revokes, 1);
      assert.equal(gov.memory("aaaaaaaaaaaa")?.granted, false);
      assert.equal(gov.memory("aaaaaaaaaaaa")?.burstGrantsTotal, 1, "the grant counter keeps counting");
      assert.deepEqual(await b.written(), [], "nothing of B's changed, so nothing was written");
      assert.deepEqual(errors, []);
    });

    test("a vanished group is forgotten without an error; a restarted one starts over", async () => {
      await gov.tick();
      second(0.5);
      await a.run(0.5, 1000, 10);
      await gov.tick();
      assert.equal(gov.memory("aaaaaaaaaaaa")?.granted, true);
      await rm(path.join(root, mode === "v1" ? "cpu" : "", A), { recursive: true });
      second(0.5);
      await b.run(0.2, 1000, 0);
      await gov.tick();
      assert.equal(gov.memory("aaaaaaaaaaaa"), undefined);
      assert.ok(gov.memory("bbbbbbbbbbbb"));
      assert.deepEqual(errors, []);

      // B restarts: a new group whose counters start from zero, with a raised quota left behind.
      b.usageNs = 0;
      b.throttled = 0;
      await b.make(1);
      await writeFile(
        path.join(b.cfsDir, mode === "v1" ? "cpu.cfs_quota_us" : "cpu.max"),
        mode === "v1" ? "175000\n" : "175000 100000\n",
      );
      second(0.5);
      await gov.tick();
      assert.equal(await b.read("quota"), 100_000, "a restarted environment starts from its class cpus");
      assert.equal(gov.memory("bbbbbbbbbbbb")?.granted, false);
    });

    test("a newly seen environment counts at its whole cap: no burst that would not fit beside it", async () => {
      envs = envs.filter((e) => e.id === "aaaaaaaaaaaa");
      await gov.tick();
      // B appears as A is throttled: A's burst (1) beside B's cap (1) is over the 1.75 budget.
      envs = [...envs, { id: "bbbbbbbbbbbb", cpus: 1, cgroupPath: B }];
      second(0.5);
      await a.run(0.5, 1000, 10);
      await gov.tick();
      assert.equal(await a.read("quota"), 50_000);
      assert.equal(gov.totals.grants, 0);
      assert.match(gov.memory("aaaaaaaaaaaa")?.explanation ?? "", /over the 1\.75-core budget/);
    });

    test("an unreadable group is reported and the others are still governed", async () => {
      await writeFile(path.join(b.cfsDir, mode === "v1" ? "cpu.shares" : "cpu.weight"), "lots\n");
      await gov.tick();
      second(0.5);
      await a.run(0.5, 1000, 4);
      await gov.tick();
      assert.equal(await a.read("quota"), 100_000);
      assert.ok(errors.length > 0 && errors.every((e) => e.envId === "bbbbbbbbbbbb"));
      assert.match(String(errors[0]?.err), /unexpected cpu\.(shares|weight)/);
    });

    test("a handle with nonsense cpus is reported and skipped, not a stop for the others", async () => {
      envs = [
        { ...envs[0]!, cpus: 0.5 },
        { ...envs[1]!, cpus: 0 },
      ];
      await gov.tick();
      second(0.5);
      await a.run(0.5, 1000, 4);
      await gov.tick();
      assert.equal(await a.read("quota"), 100_000);
      assert.equal(gov.memory("bbbbbbbbbbbb"), undefined);
      assert.ok(errors.length > 0 && errors.every((e) => e.envId === "bbbbbbbbbbbb"));
      assert.match(String(errors[0]?.err), /cpus must be a positive number, not 0/);
    });

    test("the view reads the kernel's values with the governor off", async () => {
      await a.run(0.5, 1000, 7);
      const view = await cpuGovernorView(cg, undefined, "aaaaaaaaaaaa", A, 0.5);
      assert.equal(view?.governed, false);
      assert.equal(view?.limitCores, 0.5);
      assert.equal(view?.throttledPeriodsTotal, 7);
      assert.match(view?.explanation ?? "", /WARREN_GOVERNOR=off/);
      assert.equal(await cpuGovernorView(cg, undefined, "cccccccccccc", "/wg/wg-cccccccccccc", 1), undefined);
      assert.ok(await readCpuGroup(cg, A));
    });
  });
}

describe("governor settings", () => {
  test("defaults: on, 10 s, reserve max(0.25, 5 %), burst 2×", () => {
    assert.deepEqual(governorSettings(2, {}, {}), {
      enabled: true,
      tickMs: 10_000,
      reserveCores: 0.25,
      burstFactor: 2,
    });
    assert.equal(governorSettings(64, {}, {}).reserveCores, 3.2);
  });
  test("the knobs, and what a bad one says", () => {
    const s = governorSettings(
      4,
      {},
      {
        WARREN_GOVERNOR: "off",
        WARREN_GOVERNOR_TICK_MS: "1000",
        WARREN_GOVERNOR_RESERVE_CORES: "1",
        WARREN_GOVERNOR_BURST_FACTOR: "3",
      },
    );
    assert.deepEqual(s, { enabled: false, tickMs: 1000, reserveCores: 1, burstFactor: 3 });
    assert.throws(
      () => governorSettings(2, {}, { WARREN_GOVERNOR: "maybe" }),
      /WARREN_GOVERNOR must be on or off/,
    );
    assert.throws(
      () => governorSettings(2, {}, { WARREN_GOVERNOR_RESERVE_CORES: "2" }),
      /WARREN_GOVERNOR_RESERVE_CORES must be a number of cores from 0 to below the host's 2/,
    );
    assert.throws(() => governorSettings(2, {}, { WARREN_GOVERNOR_TICK_MS: "5" }), /at least 100/);
    assert.throws(() => governorSettings(2, {}, { WARREN_GOVERNOR_BURST_FACTOR: "0.5" }), /from 1/);
  });
});
