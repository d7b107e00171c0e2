// On a real daemon: an OOM kill shows in `warren logs` with the process's name, each start and
// stop is one log line, `logs -f` ends when the environment is removed, and the smallest sizes
// the API allows start on every runtime while a smaller one is refused with nothing made.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

describe("OOM kills in logs, one line per start and stop, and size floors (e2e)", {
  timeout: 120_000,
}, () => {
  let h: Harness;
  const ok = (args: string[]) => {
    const r = h.cli(args);
    assert.equal(r.status, 0, `warren ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    h = await makeHarness("oomlogs");
    await h.startDaemon();
    ok(["up", "--name", "box", "--memory", "128m", "--disk", "64m", "--detach"]);
  });
  after(async () => {
    await h?.teardown();
  });

  it("an OOM kill is in the log, naming the process", async () => {
    // Grows about 32 MiB a second, so the watch (one check a second) sees it before the limit.
    const grow = 'while (1) { push @a, "a" x (8 * 1024 * 1024); select(undef, undef, undef, 0.25) }';
    const r = h.cli(["exec", "box", "--", "perl", "-e", grow]);
    assert.equal(r.status, 137, `expected SIGKILL: ${r.stdout}${r.stderr}`);
    let log = "";
    const until = Date.now() + 5000;
    while (!/out of memory/.test(log) && Date.now() < until) {
      await sleep(250);
      log = ok(["logs", "box"]);
    }
    assert.match(log, /process perl was killed: out of memory \(limit 128Mi\); pid \d+ inside/);
    // inspect counts it and repeats the message.
    let text = "";
    for (let i = 0; i < 40 && !/OOM kills:/.test(text); i++) {
      text = ok(["inspect", "box"]);
      if (!/OOM kills:/.test(text)) await sleep(250);
    }
    assert.match(text, /\n {2}OOM kills: 1; last .*: process perl was killed: out of memory \(limit 128Mi\)/);
  });

  it("each start and stop is one line in the log", () => {
    ok(["stop", "box"]);
    ok(["start", "box"]);
    const log = ok(["logs", "box"]);
    assert.equal(log.match(/\] started/g)?.length, 2, log);
    assert.equal(log.match(/\] stopped/g)?.length, 1, log);
  });

  it("too little memory or disk is refused and nothing is made", async () => {
    for (const flag of ["--memory", "--disk"]) {
      const r = h.cli(["up", "--name", "tiny", flag, "1k", "--detach"]);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /is below the minimum of (32|16)Mi/);
    }
    assert.deepEqual(
      (await h.client.listEnvironments()).map((e) => e.name),
      ["box"],
    );
  });

  it("the floors run a command on gVisor, the runtime that needs the most; logs -f ends on rm", async () => {
    // runc and crun start in a few MiB with a handful of tasks (measured); gVisor's sandbox is
    // what the floors are set by, so it is the one worth the seconds here.
    const runtimes = (await h.client.runnerInfo()).runtimes;
    const rt = runtimes.includes("gvisor") ? "gvisor" : runtimes[0]!;
    ok(["class", "create", "floor", "--cpus", "0.5", "--memory", "32m", "--disk", "16m", "--pids", "128"]);
    const r = h.cli([
      "up",
      "--name",
      "floor",
      "--class",
      "floor",
      "--runtime",
      rt,
      "--",
      "sh",
      "-c",
      "echo ok | cat",
    ]);
    assert.equal(r.status, 0, `${rt}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, "ok\n");
    for (let i = 0; i < 2; i++)
      assert.equal(ok(["exec", "floor", "--", "sh", "-c", "echo ok | cat"]), "ok\n");
    const follow = h.cliAsync(["logs", "-f", "floor"]);
    await sleep(500);
    ok(["rm", "-f", "floor"]);
    const end = await Promise.race([follow, sleep(8000, undefined, { ref: false }).then(() => null)]);
    assert.ok(end, "logs -f still following after rm");
    assert.equal(end.status, 0);
    assert.match(end.stdout, /log stream closed: environment floor was removed\n$/);
  });
});
