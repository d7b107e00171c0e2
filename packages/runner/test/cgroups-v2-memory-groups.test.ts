// The v2 memory code paths against a directory laid out like cgroupfs (no v2 host here): an
// environment's group split into warren/ and user/ with memory.oom.group = 0, and memory.min for
// the runner's own group.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ownV2Group, protectRunnerMemory, splitEnvGroup } from "../src/cgroups/v2-memory-groups.ts";

describe("cgroup v2 memory groups (fake cgroupfs)", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "wt-v2mem-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("splits an environment's group: its processes to warren/, user/ beside it, oom.group 0 on both", async () => {
    const env = path.join(root, "warren", "warren-ab12cd34ef56");
    await mkdir(env, { recursive: true });
    await writeFile(path.join(env, "cgroup.procs"), "101\n102\n");
    await writeFile(path.join(env, "cgroup.controllers"), "cpu memory pids\n");
    await writeFile(path.join(env, "cgroup.subtree_control"), "");
    // The kernel makes these files in a new group; the fake has them in advance.
    for (const sub of ["warren", "user"]) {
      await mkdir(path.join(env, sub));
      await writeFile(path.join(env, sub, "memory.oom.group"), "1\n");
      await writeFile(path.join(env, sub, "cgroup.procs"), "");
    }
    const got = await splitEnvGroup(env);
    assert.deepEqual(got, { helper: path.join(env, "warren"), user: path.join(env, "user") });
    // cgroupfs takes one pid per write; a file keeps the last one written.
    assert.equal(await readFile(path.join(env, "warren", "cgroup.procs"), "utf8"), "102");
    assert.equal(await readFile(path.join(env, "cgroup.subtree_control"), "utf8"), "+cpu +memory +pids");
    for (const sub of ["warren", "user"])
      assert.equal(await readFile(path.join(env, sub, "memory.oom.group"), "utf8"), "0", sub);
  });

  it("finds the runner's own group and raises its memory.min, never lowers it", async () => {
    assert.equal(ownV2Group("0::/system.slice/warren.service\n"), "/system.slice/warren.service");
    assert.equal(ownV2Group("12:memory:/x\n0::/\n"), "/");
    assert.equal(ownV2Group("4:memory:/x\n"), null, "pure v1: no unified line");
    const svc = path.join(root, "system.slice", "warren.service");
    await mkdir(svc, { recursive: true });
    await writeFile(path.join(svc, "memory.min"), "0\n");
    const self = "0::/system.slice/warren.service\n";
    assert.match(await protectRunnerMemory(root, 256 << 20, self), /set to 268435456 bytes/);
    assert.equal(await readFile(path.join(svc, "memory.min"), "utf8"), "268435456");
    await writeFile(path.join(svc, "memory.min"), "536870912\n");
    assert.match(await protectRunnerMemory(root, 256 << 20, self), /already 536870912/);
    assert.equal((await readFile(path.join(svc, "memory.min"), "utf8")).trim(), "536870912");
    assert.match(await protectRunnerMemory(root, 1, "0::/\n"), /root group/);
    assert.match(await protectRunnerMemory(root, 1, "0::/elsewhere\n"), /is missing/);
  });
});
