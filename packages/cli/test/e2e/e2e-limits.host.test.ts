// Limits hold, and only inside: OOM kills stay in the environment, fork bombs stop at the pids
// limit, CPU quota holds, the disk bounds writes, and memory pressure shows in inspect.
import assert from "node:assert/strict";
import { readFileSync, statfsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

describe("resource limits (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("limits");
    await h.startDaemon();
    assert.equal(
      h.cli([
        "class",
        "create",
        "tight",
        "--cpus",
        "0.5",
        "--memory",
        "128m",
        "--disk",
        "512m",
        "--pids",
        "128",
      ]).status,
      0,
    );
    for (const name of ["hog", "neighbour"]) {
      const r = h.cli(["up", "--name", name, "--class", "tight", "--detach"]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(async () => {
    await h?.teardown();
  });

  it("a memory hog past --memory is OOM-killed; its environment and neighbours keep running", async () => {
    const r = h.cli([
      "exec",
      "hog",
      "--",
      "perl",
      "-e",
      '$x = "a" x (400 * 1024 * 1024); print "survived\\n"',
    ]);
    assert.equal(r.status, 137, `expected SIGKILL (137), got ${r.status}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /survived/);
    assert.equal(h.cli(["exec", "hog", "--", "true"]).status, 0);
    assert.equal(h.cli(["exec", "neighbour", "--", "true"]).status, 0);
    assert.equal((await h.client.getEnvironment("hog")).state, "running");
  });

  it("a fork bomb stops at the pids limit", async () => {
    const env = await h.client.getEnvironment("hog");
    const pids = env.observed?.cgroupPaths?.["pids"];
    assert.ok(pids);
    const r = h.cli(["exec", "hog", "--", "sh", "-c", "for i in $(seq 200); do sleep 2 & done; wait"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Cannot fork|Resource temporarily unavailable/i);
    const max = Number(readFileSync(`${pids}/pids.max`, "utf8"));
    const events = readFileSync(`${pids}/pids.events`, "utf8");
    assert.equal(max, 128);
    assert.match(events, /max [1-9]/, `pids.events: ${events}`);
    await sleep(2500);
    assert.equal(h.cli(["exec", "hog", "--", "true"]).status, 0, "the environment recovers");
  });

  it("--cpus 0.5 holds a busy loop to 0.4-0.6 cores over 3 s", async () => {
    const env = await h.client.getEnvironment("hog");
    const acct = env.observed?.cgroupPaths?.["cpuacct"];
    assert.ok(acct, `cgroup paths in inspect: ${JSON.stringify(env.observed?.cgroupPaths)}`);
    const usage = () => Number(readFileSync(`${acct}/cpuacct.usage`, "utf8"));
    // Two busy loops, so an unlimited environment would use both cores.
    const loop = h.cliAsync([
      "exec",
      "hog",
      "--",
      "sh",
      "-c",
      "timeout 4 sh -c 'while :; do :; done' & timeout 4 sh -c 'while :; do :; done'; wait",
    ]);
    await sleep(500);
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await sleep(3000);
    const cores = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    await loop;
    assert.ok(cores >= 0.4 && cores <= 0.6, `busy loop used ${cores.toFixed(2)} cores`);
  });

  it("writing past --disk gets ENOSPC and host free space barely moves", () => {
    const free0 = statfsSync(h.root).bavail * statfsSync(h.root).bsize;
    const r = h.cli([
      "exec",
      "neighbour",
      "--",
      "sh",
      "-c",
      "dd if=/dev/zero of=/workspaces/big bs=1M count=1024 2>&1; rm -f /workspaces/big",
    ]);
    assert.match(r.stdout, /No space left on device/);
    const free1 = statfsSync(h.root).bavail * statfsSync(h.root).bsize;
    assert.ok(
      Math.abs(free0 - free1) < 768 * 1024 * 1024,
      `host free space moved by ${(free0 - free1) / 2 ** 20} MiB`,
    );
    const rootfs = h.cli([
      "exec",
      "neighbour",
      "--",
      "sh",
      "-c",
      "dd if=/dev/zero of=/var/big bs=1M count=1024 2>&1; rm -f /var/big",
    ]);
    assert.match(
      rootfs.stdout,
      /No space left on device/,
      "the rootfs upper layer is on the same bounded disk",
    );
  });

  it("under a memory hog, memory PSI some avg10 is above 0 in inspect", async () => {
    // A resident hog near the limit plus page-cache churn: reads must reclaim, and stall.
    const churn = h.cli([
      "exec",
      "neighbour",
      "--",
      "sh",
      "-c",
      "dd if=/dev/zero of=/workspaces/f bs=1M count=200 2>/dev/null; perl -e '$x = \"a\" x (100*1024*1024); sleep 6' & sleep 1; for i in 1 2 3 4 5 6 7 8; do cat /workspaces/f > /dev/null; done; wait; rm -f /workspaces/f; echo done",
    ]);
    assert.equal(churn.status, 0, churn.stderr);
    let best = 0;
    for (let i = 0; i < 10 && best === 0; i++) {
      const r = h.cli(["inspect", "neighbour", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      best = Math.max(best, JSON.parse(r.stdout).observed?.psi?.memory ?? 0);
      if (best === 0) await sleep(200);
    }
    assert.ok(best > 0, "memory some avg10 > 0");
  });
});
