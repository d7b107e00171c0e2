// The OOM watch against a memory group's files and real processes: a rise in oom_kill puts one
// line in the environment's log, naming the largest process that ended since the check before,
// or saying the name is not known. (The e2e limits test makes the kernel do the killing.)
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { OomWatch, oomMessage, readProcess } from "../src/logs/oom-watch.ts";

let dir: string;
const children: ChildProcess[] = [];
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "warren-oom-"));
});
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function start(cmd: string, args: string[], rssAtLeast = 0): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: "ignore" });
  children.push(c);
  const until = Date.now() + 10_000;
  for (;;) {
    const p = await readProcess(c.pid!);
    if (p && p.name === path.basename(cmd) && p.rssBytes >= rssAtLeast) return c;
    assert.ok(Date.now() < until, `${cmd} never reached ${rssAtLeast} bytes resident`);
    await sleep(20);
  }
}

const oomControl = (kills: number) => `oom_kill_disable 0\nunder_oom 0\noom_kill ${kills}\n`;

test("an oom_kill rise is logged once, naming the largest process that ended", async () => {
  const mem = path.join(dir, "memory");
  const log = path.join(dir, "console.log");
  await mkdir(mem);
  const hog = await start("perl", ["-e", '$x = "a" x (24 * 1024 * 1024); sleep 60'], 24 * 1024 * 1024);
  const small = await start("sleep", ["60"]);
  await writeFile(path.join(mem, "cgroup.procs"), `${hog.pid}\n${small.pid}\n`);
  await writeFile(path.join(mem, "memory.limit_in_bytes"), String(128 * 1024 * 1024));
  await writeFile(path.join(mem, "memory.usage_in_bytes"), String(100 * 1024 * 1024));
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(0));
  const watch = new OomWatch({ paths: () => ({ memory: mem }) }, { maxBytes: 1 << 20, keep: 0 });
  const target = { id: "0123456789ab", cgroupPath: "/x", logFile: log };

  assert.equal(await watch.check(target), null, "the first check is a baseline");
  assert.equal(await watch.check(target), null, "no rise, no line");

  // What the kernel does at the limit: kill the largest process and count it.
  const gone = new Promise((r) => hog.once("exit", r));
  hog.kill("SIGKILL");
  await gone;
  await writeFile(path.join(mem, "cgroup.procs"), `${small.pid}\n`);
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(1));
  const line = await watch.check(target);
  assert.match(
    line ?? "",
    new RegExp(
      `^out of memory: the kernel killed a process at the 128Mi memory limit; most likely perl \\(pid ${hog.pid}, [\\d.]+Mi resident`,
    ),
  );
  assert.match(await readFile(log, "utf8"), /^\[warren [^\]]+\] out of memory: .*most likely perl/);
  assert.equal(await watch.check(target), null, "logged once");

  // A victim that came and went between two checks was never seen.
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(3));
  assert.match((await watch.check(target)) ?? "", /killed 2 processes .*its name is not known/);

  // A restarted environment's group counts from zero again: a new baseline, not a kill.
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(0));
  assert.equal(await watch.check(target), null);
  assert.equal((await readFile(log, "utf8")).split("\n").filter(Boolean).length, 2);

  // Far below the limit the processes are not read, so a kill then has no name to give.
  await writeFile(path.join(mem, "memory.usage_in_bytes"), String(10 * 1024 * 1024));
  assert.equal(await watch.check(target), null);
  small.kill("SIGKILL");
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(1));
  assert.match((await watch.check(target)) ?? "", /its name is not known/);
});

test("the message without a known limit or victim", () => {
  assert.equal(
    oomMessage(1, null, []),
    "out of memory: the kernel killed a process at the memory limit; its name is not known: it started and ended between two checks",
  );
});
