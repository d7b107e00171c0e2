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
import { OomWatch, oomMessage, readOomRecord, readProcess } from "../src/logs/oom-watch.ts";

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
      `^process perl was killed: out of memory \\(limit 128Mi\\); pid ${hog.pid} inside, [\\d.]+Mi resident when last seen$`,
    ),
  );
  assert.match(await readFile(log, "utf8"), /^\[warren [^\]]+\] process perl was killed: out of memory/);
  assert.equal(await watch.check(target), null, "logged once");
  assert.deepEqual(
    { ...(await readOomRecord(log)), last: undefined },
    { kills: 1, last: undefined },
    "the counter that inspect shows",
  );
  assert.equal((await readOomRecord(log))?.last?.message, line);

  // A victim that came and went between two checks was never seen.
  await writeFile(path.join(mem, "memory.oom_control"), oomControl(3));
  assert.match(
    (await watch.check(target)) ?? "",
    /^2 processes were killed: out of memory \(limit 128Mi\); its name is not known/,
  );
  assert.equal((await readOomRecord(log))?.kills, 3, "the counter adds every kill");

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
    "a process was killed: out of memory (at its limit); its name is not known: it started and ended between two checks",
  );
  assert.equal(
    oomMessage(2, 2 * 1024 ** 3, [
      { name: "small", pid: 7, rssBytes: 1024 ** 2 },
      { name: "cc1plus", pid: 9, rssBytes: 1536 * 1024 ** 2 },
    ]),
    "process cc1plus was killed: out of memory (limit 2Gi); pid 9 inside, 1.5Gi resident when last seen; 1 more was killed with it",
  );
});
