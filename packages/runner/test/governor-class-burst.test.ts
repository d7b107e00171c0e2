// A class's own CPU burst (`warren class create --cpu-burst`), carried in the environment's spec:
// the runner lists it from each handle, and the governor's loop raises a throttled environment to
// that burst instead of the runner-wide factor × cpus, still never above the budget. Without one,
// the factor applies as before. Runs the loop against directories laid out like a v2 cgroupfs.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { CgroupV2Driver } from "../src/cgroups/v2.ts";
import { parseCpuMax } from "../src/governor/cgroup-cpu.ts";
import { CpuGovernor, type GovernedEnv } from "../src/governor/loop.ts";
import { listGovernedEnvs } from "../src/governor/runner-governor.ts";
import { governorSettings } from "../src/governor/settings.ts";
import type { RunnerConfig } from "../src/host/config.ts";
import { hostNames } from "../src/host/names.ts";
import { HANDLE_VERSION, writeHandle } from "../src/state/handle.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "wt-gov-burst-"));
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** One v2 group as the runtime makes it (quota = cpus), with cumulative counters to advance. */
async function group(cg: CgroupV2Driver, id: string, cpus: number) {
  const dir = cg.paths(`/wg/wg-${id}`)["unified"] as string;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "cpu.weight"), "100\n");
  await writeFile(path.join(dir, "cpu.max"), `${Math.round(cpus * 100_000)} 100000\n`);
  await writeFile(path.join(dir, "cpu.max.burst"), "0\n");
  let usageUs = 0;
  let throttled = 0;
  const flush = () =>
    writeFile(
      path.join(dir, "cpu.stat"),
      `usage_usec ${usageUs}\nnr_periods ${throttled * 2}\nnr_throttled ${throttled}\nthrottled_usec 0\n`,
    );
  await flush();
  return {
    env: (burstCpus?: number): GovernedEnv => ({
      id,
      cpus,
      cgroupPath: `/wg/wg-${id}`,
      ...(burstCpus !== undefined ? { burstCpus } : {}),
    }),
    /** `cores` busy for 1 s, throttled for `periods` periods. */
    async run(cores: number, periods: number) {
      usageUs += Math.round(cores * 1e6);
      throttled += periods;
      await flush();
    },
    quotaCores: async () =>
      (parseCpuMax(await readFile(path.join(dir, "cpu.max"), "utf8")) as number) / 100_000,
  };
}

/** A governor on `hostCores` (reserve 0.25) with the runner-wide factor 2, ticked by hand. */
function governor(cg: CgroupV2Driver, hostCores: number, envs: () => GovernedEnv[]) {
  let clock = 0;
  let hostBusy = 0;
  const errors: { err: unknown; envId: string | undefined }[] = [];
  const gov = new CpuGovernor({
    cgroups: cg,
    hostCores,
    settings: governorSettings(hostCores, { tickMs: 1000, reserveCores: 0.25, burstFactor: 2 }, {}),
    listEnvs: async () => envs(),
    hostBusySeconds: () => hostBusy,
    now: () => clock,
    onError: (err, envId) => errors.push({ err, envId }),
  });
  return {
    gov,
    errors,
    /** One second in which the host was busy for `cores`. */
    second(cores: number) {
      clock += 1000;
      hostBusy += cores;
    },
  };
}

describe("a class's own CPU burst", () => {
  test("a throttled environment is raised to its class's burst; without one, to the factor × cpus", async () => {
    const cg = new CgroupV2Driver({ root });
    const own = await group(cg, "aaaaaaaaaaaa", 0.5);
    const plain = await group(cg, "bbbbbbbbbbbb", 0.25);
    const flat = await group(cg, "cccccccccccc", 0.5);
    const bad = await group(cg, "dddddddddddd", 0.5);
    // 0.75 where the factor would give 1; none set; equal to its cpus (no burst); nonsense.
    const envs = [own.env(0.75), plain.env(), flat.env(0.5), bad.env(Number.NaN)];
    const g = governor(cg, 4, () => envs);
    await g.gov.tick();
    g.second(1.25);
    await own.run(0.5, 10);
    await plain.run(0.25, 10);
    await flat.run(0.5, 10);
    await g.gov.tick();

    assert.equal(await own.quotaCores(), 0.75, "the class's burst, not 2 × 0.5");
    assert.equal(await plain.quotaCores(), 0.5, "no class burst: the runner's factor, 2 × 0.25");
    assert.equal(await flat.quotaCores(), 0.5, "a burst equal to its cpus is never raised");
    const memory = (id: string) => g.gov.memory(id);
    assert.deepEqual(
      [memory("aaaaaaaaaaaa"), memory("bbbbbbbbbbbb"), memory("cccccccccccc")].map((m) => [
        m?.granted,
        m?.burstCores,
      ]),
      [
        [true, 0.75],
        [true, 0.5],
        [false, 0.5],
      ],
    );
    assert.match(memory("cccccccccccc")?.explanation ?? "", /its burst is not above them/);
    assert.equal(g.gov.totals.grants, 2);
    assert.equal(memory("dddddddddddd"), undefined, "a nonsense burst is not governed");
    assert.ok(g.errors.length > 0 && g.errors.every((e) => e.envId === "dddddddddddd"));
    assert.match(String(g.errors[0]?.err), /cpu burst must be a positive number of cores, not NaN/);
  });

  test("a class's burst above the budget is granted only up to the budget", async () => {
    const cg = new CgroupV2Driver({ root });
    const big = await group(cg, "aaaaaaaaaaaa", 0.5);
    const g = governor(cg, 2, () => [big.env(8)]);
    await g.gov.tick();
    g.second(0.55);
    await big.run(0.5, 10);
    await g.gov.tick();
    assert.equal(await big.quotaCores(), 1.75, "budget: 2 cores less the 0.25 reserve");
    assert.equal(g.gov.memory("aaaaaaaaaaaa")?.burstCores, 1.75);
  });
});

describe("the governed environments as the runner lists them", () => {
  test("each handle's spec gives its cpus and, when its class set one, its burst", async () => {
    const cfg = { root, prefix: "wt" } as RunnerConfig;
    const spec = (id: string, cpuBurst?: number): RunnerEnvSpec => ({
      id,
      name: id,
      slot: 0,
      image: "img",
      runtime: "crun",
      resources: { cpus: 1, memoryBytes: 1024 ** 3, diskBytes: 1024 ** 3, pids: 100 },
      ...(cpuBurst !== undefined ? { cpuBurst } : {}),
    });
    for (const s of [spec("aaaaaaaaaaaa", 3), spec("bbbbbbbbbbbb")]) {
      await writeHandle(hostNames(cfg, s.id).handleFile, {
        version: HANDLE_VERSION,
        spec: s,
        createdAt: "t",
        hostStart: 100_000,
      });
    }
    const listed = (await listGovernedEnvs(cfg)).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(listed, [
      { id: "aaaaaaaaaaaa", cpus: 1, burstCpus: 3, cgroupPath: "/wt/wt-aaaaaaaaaaaa" },
      { id: "bbbbbbbbbbbb", cpus: 1, cgroupPath: "/wt/wt-bbbbbbbbbbbb" },
    ]);
  });
});
