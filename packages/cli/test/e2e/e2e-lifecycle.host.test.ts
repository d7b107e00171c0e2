// Lifecycle through the real CLI and daemon: root inside / unprivileged outside, disjoint id
// ranges, sudo, persistence across stop/start, daemon kill -9 and a simulated reboot, and a
// delete that leaves nothing behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { forceClean, type Harness, leftovers, makeHarness, REPO } from "@warren/testing/e2e-harness";

function hostUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("Uid:"))!;
  return Number(line.split(/\s+/)[1]);
}

describe("environment lifecycle (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("life");
    await h.startDaemon();
  });
  after(async () => {
    await h?.teardown();
  });

  it("up runs a command as root inside; the host sees an unprivileged uid from the block", async () => {
    const r = h.cli(["up", "--name", "alpha", "--memory", "512m", "--disk", "1g", "--", "id", "-u"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "0");
    const env = await h.client.getEnvironment("alpha");
    assert.equal(env.state, "running");
    const pid = env.observed?.pid;
    assert.ok(pid && pid > 0, "inspect shows the host pid of init");
    const range = env.observed!.uidRange!;
    const uid = hostUid(pid);
    assert.equal(uid, range.start, "init runs as the first uid of the environment's range");
    assert.ok(uid >= 65536 * 2, "uid outside is not a host system uid");
  });

  it("a second environment gets a disjoint id range", async () => {
    const r = h.cli(["up", "--name", "beta", "--memory", "256m", "--disk", "1g", "--detach", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const a = (await h.client.getEnvironment("alpha")).observed!.uidRange!;
    const b = (await h.client.getEnvironment("beta")).observed!.uidRange!;
    assert.ok(
      a.start + a.size <= b.start || b.start + b.size <= a.start,
      `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
    );
  });

  it("exec output into a pipe that is read late arrives whole (flow control pauses the command)", () => {
    // The reader sleeps first, so the pipe, the CLI, the daemon and the runner all back up; every
    // byte still arrives once it reads.
    const main = path.join(REPO, "packages/cli/src/main.ts");
    const bytes = 64 * 1024 * 1024;
    const r = spawnSync(
      "sh",
      ["-c", `"${process.execPath}" "${main}" exec alpha -- head -c ${bytes} /dev/zero | (sleep 2; wc -c)`],
      { env: h.env, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(bytes));
  });

  it("exec passes the exit code through and starts in /workspaces/NAME", () => {
    const r = h.cli(["exec", "alpha", "--", "sh", "-c", "pwd; exit 7"]);
    assert.equal(r.status, 7);
    assert.equal(r.stdout.trim(), "/workspaces/alpha");
  });

  it("sudo works for a non-root user inside", () => {
    const setup = h.cli([
      "exec",
      "alpha",
      "--",
      "sh",
      "-c",
      "useradd -m -u 1000 dev && echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev && chmod 440 /etc/sudoers.d/dev",
    ]);
    assert.equal(setup.status, 0, setup.stderr);
    const r = h.cli([
      "exec",
      "alpha",
      "--",
      "runuser",
      "-u",
      "dev",
      "--",
      "sh",
      "-c",
      "id -u; sudo -n id -u",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["1000", "0"]);
  });

  it("the workspace survives stop/start, a daemon kill -9 and a simulated reboot", async () => {
    assert.equal(h.cli(["exec", "alpha", "--", "sh", "-c", "echo keep > /workspaces/alpha/f"]).status, 0);
    assert.equal(h.cli(["stop", "alpha"]).status, 0);
    assert.equal((await h.client.getEnvironment("alpha")).state, "stopped");
    assert.equal(h.cli(["start", "alpha"]).status, 0);
    assert.equal(h.cli(["exec", "alpha", "--", "cat", "/workspaces/alpha/f"]).stdout.trim(), "keep");

    // kill -9 of the daemon: environments keep running and are re-adopted.
    const before = (await h.client.getEnvironment("alpha")).observed!.pid;
    await h.killDaemon();
    assert.ok(before && spawnSync("kill", ["-0", String(before)]).status === 0, "init survives the daemon");
    await h.startDaemon();
    const adopted = await h.client.getEnvironment("alpha");
    assert.equal(adopted.state, "running");
    assert.equal(adopted.observed!.pid, before, "re-adopted, not restarted");
    assert.equal(h.cli(["exec", "alpha", "--", "cat", "/workspaces/alpha/f"]).stdout.trim(), "keep");

    // Simulated reboot: daemon gone, containers gone, every Warren mount and loop device torn down.
    await h.killDaemon();
    forceClean(h.root, h.prefix, { keepFiles: true });
    assert.deepEqual(leftovers(h.root, h.prefix), []);
    await h.startDaemon();
    const back = await waitRunning(h, "alpha");
    assert.equal(back.state, "running");
    assert.equal(h.cli(["exec", "alpha", "--", "cat", "/workspaces/alpha/f"]).stdout.trim(), "keep");
  });

  it("rm removes container, mounts, loop device, cgroups and disk", async () => {
    assert.equal(h.cli(["rm", "-f", "alpha"]).status, 0);
    assert.equal(h.cli(["rm", "-f", "beta"]).status, 0);
    assert.deepEqual(h.leftovers(), []);
    const r = h.cli(["inspect", "alpha", "--json"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /alpha/);
  });
});

async function waitRunning(h: Harness, name: string) {
  for (let i = 0; i < 100; i++) {
    const e = await h.client.getEnvironment(name);
    if (e.state === "running" || e.state === "failed") return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  return h.client.getEnvironment(name);
}
