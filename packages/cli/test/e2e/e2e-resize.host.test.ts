// Live resources and usage, end to end: `warren stats` agrees with the kernel's cgroup files,
// `warren set` raises and lowers limits on a running environment and the kernel sees it, a
// memory limit below use is refused with nothing changed (kernel and record), and the new limits
// survive stop/start and a daemon restart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Environment, EnvStats } from "@warren/protocol";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const MiB = 1024 ** 2;

describe("live resize and stats (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  let cg: Record<string, string>;
  const file = (ctrl: string, name: string) => readFileSync(`${cg[ctrl]}/${name}`, "utf8").trim();
  const kernel = () => ({
    quota: Number(file("cpu", "cpu.cfs_quota_us")),
    memory: Number(file("memory", "memory.limit_in_bytes")),
    memsw: Number(file("memory", "memory.memsw.limit_in_bytes")),
    pids: file("pids", "pids.max"),
  });
  const ok = (args: string[]) => {
    const r = h.cli(args);
    assert.equal(r.status, 0, `warren ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const stats = (): EnvStats => JSON.parse(ok(["stats", "r", "--json"]));
  const inspect = (): Environment => JSON.parse(ok(["inspect", "r", "--json"]));
  const refreshCgroups = () => {
    const paths = inspect().observed?.cgroupPaths;
    assert.ok(paths?.["cpu"] && paths["memory"] && paths["pids"], JSON.stringify(paths));
    cg = paths;
  };

  before(async () => {
    h = await makeHarness("resize");
    await h.startDaemon();
    ok([
      "class",
      "create",
      "resize",
      "--cpus",
      "1",
      "--memory",
      "256m",
      "--disk",
      "512m",
      "--pids",
      "128",
      "--max-cpus",
      "2",
      "--max-memory",
      "2g",
    ]);
    // Bounds are the class's --max-* (default: its own values).
    ok([
      "class",
      "create",
      "capped",
      "--cpus",
      "1",
      "--memory",
      "256m",
      "--disk",
      "512m",
      "--max-cpus",
      "2",
      "--max-memory",
      "1g",
    ]);
    ok(["up", "--name", "r", "--class", "resize", "--detach"]);
    ok(["up", "--name", "c", "--class", "capped", "--detach"]);
    refreshCgroups();
  });
  after(async () => {
    await h?.teardown();
    assert.deepEqual(h?.leftovers() ?? [], []);
  });

  it("stats match the cgroup files: memory limit, pids and pids limit, disk quota", () => {
    const s = stats();
    assert.equal(s.name, "r");
    assert.equal(s.memoryLimitBytes, Number(file("memory", "memory.limit_in_bytes")));
    assert.equal(s.memoryLimitBytes, 256 * MiB);
    assert.ok(Math.abs(s.pids - Number(file("pids", "pids.current"))) <= 2, `pids ${s.pids}`);
    assert.ok(s.pids >= 1);
    assert.equal(s.pidsLimit, 128);
    assert.equal(s.diskQuotaBytes, 512 * MiB);
    assert.ok(s.diskUsedBytes > 0 && s.diskUsedBytes < s.diskQuotaBytes, `disk used ${s.diskUsedBytes}`);
    assert.ok(s.memoryWorkingSetBytes > 0 && s.memoryWorkingSetBytes < s.memoryLimitBytes);
    assert.ok(s.cpuCores >= 0 && s.cpuCores < 0.2, `idle cpu ${s.cpuCores}`);
    const all = ok(["stats"]);
    assert.match(all, /^NAME\s+CPU\s+MEM USAGE \/ LIMIT/);
    assert.match(all, /\nc\s/);
    assert.match(all, /\nr\s+\S+ cpus\s+\S+ \/ 256Mi/);
  });

  it("disk used follows writes in the environment's own filesystem", () => {
    const before = stats().diskUsedBytes;
    ok([
      "exec",
      "r",
      "--",
      "sh",
      "-c",
      "dd if=/dev/urandom of=/workspaces/blob bs=1M count=64 2>/dev/null; sync",
    ]);
    const grown = stats().diskUsedBytes - before;
    ok(["exec", "r", "--", "rm", "-f", "/workspaces/blob"]);
    assert.ok(grown > 60 * MiB && grown < 80 * MiB, `disk grew ${grown / MiB} MiB`);
  });

  it("cpu is a rate in cores: a busy loop under --cpus 1 shows about one core", async () => {
    const loop = h.cliAsync(["exec", "r", "--", "timeout", "7", "sh", "-c", "while :; do :; done"]);
    // Past the meter's 3 s window, so the rate is measured over the busy time alone.
    await sleep(3500);
    const s = stats();
    await loop;
    assert.ok(s.cpuCores > 0.6 && s.cpuCores < 1.15, `busy loop shows ${s.cpuCores} cores`);
  });

  it("oom kills count up after a memory hog", () => {
    const before = stats().oomKills;
    const r = h.cli(["exec", "r", "--", "perl", "-e", '$x = "a" x (400 * 1024 * 1024); print "survived\\n"']);
    assert.equal(r.status, 137, r.stdout + r.stderr);
    assert.ok(stats().oomKills >= before + 1);
  });

  it("set raises and lowers cpu, memory (memsw too) and pids on the running environment", () => {
    ok(["set", "r", "--cpus", "2", "--memory", "512m", "--pids", "200"]);
    assert.deepEqual(kernel(), { quota: 200_000, memory: 512 * MiB, memsw: 512 * MiB, pids: "200" });
    assert.equal(stats().memoryLimitBytes, 512 * MiB);
    ok(["set", "r", "--cpus", "0.5", "--memory", "192m"]);
    assert.deepEqual(kernel(), { quota: 50_000, memory: 192 * MiB, memsw: 192 * MiB, pids: "200" });
    const env = inspect();
    assert.deepEqual(env.spec.resources, {
      cpus: 0.5,
      memoryBytes: 192 * MiB,
      diskBytes: 512 * MiB,
      pids: 200,
    });
    assert.deepEqual(env.observed?.resources, env.spec.resources);
    assert.match(ok(["inspect", "r"]), /Limits:\s+0\.5 cpus, 192Mi memory, 200 pids/);
  });

  it("set above the class's max is refused before anything changes", () => {
    const r = h.cli(["set", "c", "--memory", "2g"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /exceeds the maximum of 1Gi for class "capped"/);
    const cpus = h.cli(["set", "c", "--cpus", "3"]);
    assert.equal(cpus.status, 1);
    assert.match(cpus.stderr, /cpus 3 exceeds the maximum of 2/);
  });

  it("a memory limit below use is refused: kernel and record stay as they were", async () => {
    const hold = h.cliAsync(["exec", "r", "--", "perl", "-e", '$x = "a" x (64 * 1024 * 1024); sleep 30']);
    try {
      const until = Date.now() + 15_000;
      while (Number(file("memory", "memory.usage_in_bytes")) < 64 * MiB) {
        assert.ok(Date.now() < until, "the holder never got its memory");
        await sleep(100);
      }
      const kernelBefore = kernel();
      const specBefore = inspect().spec.resources;
      const r = h.cli(["set", "r", "--memory", "32m", "--cpus", "1.5"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /cannot lower the memory limit to 32Mi: the environment is using \d/);
      assert.deepEqual(kernel(), kernelBefore, "cpu quota and memory files unchanged");
      assert.deepEqual(inspect().spec.resources, specBefore, "the desired state is unchanged too");
    } finally {
      h.cli(["exec", "r", "--", "pkill", "-KILL", "perl"]);
      await hold;
    }
  });

  it("new limits survive stop/start and a daemon restart", async () => {
    ok(["set", "r", "--cpus", "1.5", "--memory", "300m", "--pids", "150"]);
    ok(["stop", "r", "--time", "0"]);
    const stopped = inspect();
    assert.equal(stopped.state, "stopped");
    // Changing a stopped environment records it for the next start.
    ok(["set", "r", "--pids", "160"]);
    ok(["start", "r"]);
    refreshCgroups();
    assert.deepEqual(kernel(), { quota: 150_000, memory: 300 * MiB, memsw: 300 * MiB, pids: "160" });
    await h.killDaemon();
    await h.startDaemon();
    assert.deepEqual(inspect().spec.resources, {
      cpus: 1.5,
      memoryBytes: 300 * MiB,
      diskBytes: 512 * MiB,
      pids: 160,
    });
    assert.deepEqual(kernel(), { quota: 150_000, memory: 300 * MiB, memsw: 300 * MiB, pids: "160" });
    assert.equal(stats().memoryLimitBytes, 300 * MiB);
  });
});
