// What a user hits around removal and daemon restarts, through the real CLI and daemon: `rm`
// refuses a running environment without -f, `rm -f` asks on a terminal when the workspace may
// have changed, inspect shows the address; and 20 concurrent `warren up` with the auto-started
// daemon killed (-9) 1.5 s in all end accurately, with `warren ls` agreeing, while the
// supervisor brings the daemon back without any CLI call.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Environment } from "@warren/protocol";
import { type Harness, makeHarness, REPO } from "@warren/testing/e2e-harness";
import { spawn as ptySpawn } from "node-pty";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");
// A quarter CPU each: 20 of them fit the CPU overcommit (4:1) of a 2-core host.
const SMALL = ["--cpus", "0.25", "--memory", "128m", "--disk", "32m"];

describe("rm, inspect and daemon restarts (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  /** Auto-start on: the daemon runs under the supervisor, as on a host without systemd. */
  let auto: NodeJS.ProcessEnv;
  const supervisorPid = () => Number(readFileSync(path.join(h.root, "supervisor.pid"), "utf8"));
  const daemonPid = () => Number(readFileSync(path.join(h.root, "run", "daemon.pid"), "utf8"));
  // What `inspect --json` prints, without a CLI start per look (the CLI's text is checked once).
  const inspect = (name: string): Promise<Environment> => h.client.getEnvironment(name);

  before(async () => {
    h = await makeHarness("rm");
    auto = { WARREN_NO_AUTOSTART: "0" };
    const r = h.cli(["ls"], { env: auto });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(h.root, "supervisor.pid")), "auto-start ran the supervisor");
  });
  after(async () => {
    try {
      for (const e of await h.client.listEnvironments().catch(() => [])) {
        await h.client.deleteEnvironment(e.name, true).catch(() => undefined);
      }
      // Ours, by pid: the supervisor stops its daemon and exits.
      const sup = supervisorPid();
      process.kill(sup, "SIGTERM");
      for (let i = 0; i < 100 && existsSync(path.join(h.root, "supervisor.pid")); i++) await sleep(100);
    } catch {}
    await h.teardown();
  });

  function inPty(args: string[]) {
    const p = ptySpawn(process.execPath, [MAIN, ...args], { cols: 200, rows: 20, env: h.env as never });
    let out = "";
    p.onData((s) => {
      out += s;
    });
    const exited = new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test(out); i++) await sleep(50);
      assert.match(out, re);
    };
    return { p, exited, waitFor, output: () => out };
  }

  it("inspect shows the address the environment has inside", async () => {
    const up = h.cli(["up", "--name", "keep", ...SMALL, "--detach"]);
    assert.equal(up.status, 0, up.stderr);
    const json = JSON.parse(h.cli(["inspect", "keep", "--json"]).stdout) as Environment;
    const ip = json.observed?.ip;
    assert.match(ip ?? "", /^10\.201\.\d+\.\d+$/);
    assert.match(h.cli(["inspect", "keep"]).stdout, new RegExp(`IP: +${ip!.replaceAll(".", "\\.")}\\n`));
    const inside = h.cli(["exec", "keep", "--", "cat", "/proc/net/fib_trie"]);
    assert.ok(inside.stdout.includes(ip!), inside.stdout);
  });

  it("rm without -f refuses a running environment and names `warren stop` and -f", async () => {
    assert.equal(h.cli(["exec", "keep", "--", "sh", "-c", "echo work > /workspaces/keep/file"]).status, 0);
    const r = h.cli(["rm", "keep"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /`warren stop keep`.*`warren rm -f keep`/);
    assert.equal((await inspect("keep")).state, "running");
    assert.equal(h.cli(["exec", "keep", "--", "cat", "/workspaces/keep/file"]).stdout, "work\n");
  });

  it("rm -f asks on a terminal while the workspace may have changed; no answer keeps it", async () => {
    assert.equal((await inspect("keep")).observed?.workspaceDirty, true);
    const t = inPty(["rm", "-f", "keep"]);
    await t.waitFor(/remove it and its workspace\? \[y\/N\]/);
    t.p.write("n\r");
    assert.equal(await t.exited, 1);
    assert.match(t.output(), /not removed: keep is kept/);
    assert.equal((await inspect("keep")).state, "running");
    const yes = inPty(["rm", "-f", "keep"]);
    await yes.waitFor(/\[y\/N\]/);
    yes.p.write("y\r");
    assert.equal(await yes.exited, 0, yes.output());
    await assert.rejects(inspect("keep"), /does not exist/);
  });

  it("a stopped environment is unchanged since its stop: rm without -f removes it, rm -f does not ask", async () => {
    for (const n of ["s1", "s2"]) {
      assert.equal(h.cli(["up", "--name", n, ...SMALL, "--detach"]).status, 0);
      assert.equal(h.cli(["stop", n, "--time", "0"]).status, 0);
      assert.equal((await inspect(n)).observed?.workspaceDirty, false);
    }
    assert.equal(h.cli(["rm", "s1"]).status, 0);
    const t = inPty(["rm", "-f", "s2"]);
    assert.equal(await t.exited, 0, t.output());
    assert.doesNotMatch(t.output(), /\[y\/N\]/);
    // Started again, it may change: rm -f without a terminal is the confirmation.
    assert.equal(h.cli(["up", "--name", "s3", ...SMALL, "--detach"]).status, 0);
    assert.equal(h.cli(["rm", "-f", "s3"]).status, 0);
    assert.deepEqual(await h.client.listEnvironments(), []);
  });

  it("20 concurrent `up` with the daemon killed -9 1.5 s in: each ends accurately, and ls agrees", async (t) => {
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? ["up", "--name", `c${i}`, ...SMALL, "--detach"] : ["up", ...SMALL, "--detach"],
    );
    const results = Promise.all(calls.map((args) => cliAsync(h, args, auto)));
    await sleep(1500);
    const killed = daemonPid();
    process.kill(killed, "SIGKILL");
    const done = await results;
    const listed = new Map((await h.client.listEnvironments()).map((e) => [e.name, e.state]));
    const printed = new Set<string>();
    let ok = 0;
    for (const [i, r] of done.entries()) {
      const name = /environment (\S+) \(/.exec(r.stderr)?.[1];
      if (r.status === 0) {
        ok++;
        assert.ok(name, r.stderr);
        assert.equal(listed.get(name), "running", `${name}: printed success, ls says ${listed.get(name)}`);
        if (i % 2 === 0) assert.equal(name, `c${i}`);
        printed.add(name);
      } else {
        // A failure names what it may have left, so a user can find it.
        assert.match(r.stderr, /warren: .*(warren ls|may have been created)/, r.stderr);
        const left = /environment (\S+) may have been created/.exec(r.stderr)?.[1];
        if (left && listed.has(left)) printed.add(left);
      }
    }
    t.diagnostic(`${ok} of 20 succeeded; daemon pid ${killed} killed -9 at 1.5 s`);
    assert.deepEqual(
      [...listed.keys()].sort(),
      [...printed].sort(),
      "ls shows exactly what the calls reported",
    );
    assert.notEqual(daemonPid(), killed, "the supervisor restarted the daemon");
  });

  it("kill -9: the supervisor brings the daemon back with no CLI call", async (t) => {
    const before = daemonPid();
    process.kill(before, "SIGKILL");
    const t0 = Date.now();
    let answered = false;
    while (Date.now() - t0 < 15_000) {
      await sleep(100);
      const ok = await h.client.health().then(
        () => true,
        () => false,
      );
      if (ok && daemonPid() !== before) {
        answered = true;
        break;
      }
    }
    assert.ok(answered, "answers again within 15 s");
    t.diagnostic(`answered again ${Date.now() - t0} ms after kill -9`);
  });
});

function cliAsync(h: Harness, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...h.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code) => resolve({ status: code ?? 128, stdout, stderr }));
  });
}
