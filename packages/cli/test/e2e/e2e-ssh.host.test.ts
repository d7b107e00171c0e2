// The SSH gateway end to end with the real OpenSSH client against a real daemon and environment:
// exec and its exit status, an interactive pty that follows a resize, SetEnv's allow-list,
// `ssh -L` to a server on the environment's own 127.0.0.1, forwards that must reach nothing on the
// host (its loopback, the metadata address), and `warren ssh-key rm` ending a live session.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import { loginToGateway, sshClientOptions } from "@warren/testing/ssh-login";
import { spawn as ptySpawn } from "node-pty";

const ENV = "sshe";
/** A one-connection TCP server on the environment's loopback (perl-base ships IO::Socket::INET). */
const ENV_SERVER =
  'perl -MIO::Socket::INET -e \'$s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>7777,Listen=>1,ReuseAddr=>1) or die "listen: $!"; $|=1; print "ready\\n"; $c=$s->accept; print $c "hello from inside\\n"; close $c\'';

describe("SSH gateway (e2e)", { timeout: 120_000 }, () => {
  let h: Harness;
  let port = 0;
  let key = "";
  let knownHosts = "";
  const children = new Set<ChildProcess>();

  const sshArgs = (extra: string[] = [], logLevel = "ERROR") => [
    ...sshClientOptions({ knownHosts, key, logLevel }),
    "-p",
    String(port),
    ...extra,
  ];
  const ssh = (args: string[], opts: { logLevel?: string; timeoutMs?: number } = {}) => {
    const child = spawn("ssh", [...sshArgs([], opts.logLevel), ...args], { stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
      child.once("close", (status) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ status, stdout, stderr });
      }),
    );
    return { child, done, out: () => stdout };
  };
  const waitFor = async (what: string, ok: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  before(async () => {
    h = await makeHarness("ssh");
    await h.startDaemon();
    const up = h.cli(["up", "--name", ENV, "--memory", "256m", "--disk", "1g", "--detach"]);
    assert.equal(up.status, 0, up.stderr);
    ({ port, key, knownHosts } = await loginToGateway(h));
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await h?.teardown();
  });

  it("runs commands as root inside and passes the exit status through", async () => {
    const [id, seven] = await Promise.all([
      ssh([`${ENV}@127.0.0.1`, "id -u"]).done,
      ssh([`${ENV}@127.0.0.1`, "exit 7"]).done,
    ]);
    assert.equal(id.stdout, "0\n", id.stderr);
    assert.equal(id.status, 0);
    assert.equal(seven.status, 7, seven.stderr);
  });

  it("passes LANG through SetEnv and drops variables off the allow-list", async () => {
    const r = await ssh([
      "-o",
      "SetEnv=LANG=C.UTF-8 WARREN_SSH_PROBE=leak",
      `${ENV}@127.0.0.1`,
      'echo "LANG=$LANG"; printenv WARREN_SSH_PROBE || echo probe-unset',
    ]).done;
    assert.equal(r.stdout, "LANG=C.UTF-8\nprobe-unset\n", r.stderr);
  });

  it("gives an interactive pty that follows a resize", async () => {
    const p = ptySpawn("ssh", [...sshArgs(["-tt"]), `${ENV}@127.0.0.1`], { cols: 90, rows: 20 });
    let out = "";
    p.onData((s) => {
      out += s;
    });
    const exited = new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
    try {
      p.write("stty size; echo mark-$((6*7))\r");
      await waitFor("the first size", () => /20 90[\s\S]*mark-42/.test(out));
      p.resize(120, 33);
      await new Promise((r) => setTimeout(r, 200));
      const from = out.length;
      p.write("stty size; echo mark-$((7*7))\r");
      await waitFor("the size after the resize", () => /33 120[\s\S]*mark-49/.test(out.slice(from)));
      p.write("exit 3\r");
      assert.equal(await exited, 3);
    } finally {
      p.kill();
    }
  });

  it("forwards ssh -L to a server on the environment's own 127.0.0.1", async () => {
    const server = ssh([`${ENV}@127.0.0.1`, ENV_SERVER]);
    await waitFor("the server inside", () => server.out().includes("ready"));
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", () => r()));
    const local = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    const fwd = ssh([
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      "-L",
      `127.0.0.1:${local}:127.0.0.1:7777`,
      `${ENV}@127.0.0.1`,
    ]);
    // The first connection once ssh listens: what the server inside sent, to its end.
    const got = await (async () => {
      const end = Date.now() + 15_000;
      for (;;) {
        const text = await new Promise<string | undefined>((resolve) => {
          let acc = "";
          const s = net.connect(local, "127.0.0.1");
          s.on("data", (d: Buffer) => (acc += d.toString()));
          s.on("end", () => resolve(acc));
          s.on("error", () => resolve(undefined));
        });
        if (text !== undefined) return text;
        if (Date.now() > end) throw new Error("the forward never listened");
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    assert.equal(got, "hello from inside\n");
    fwd.child.kill("SIGTERM");
    assert.equal((await server.done).status, 0);
  });

  it("reaches nothing on the host: not its loopback, not the metadata address", async () => {
    let hits = 0;
    const host = net.createServer((s) => {
      hits++;
      s.destroy();
    });
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", () => r()));
    const hostPort = (host.address() as net.AddressInfo).port;
    try {
      const [loop, meta] = await Promise.all([
        ssh([`-W`, `127.0.0.1:${hostPort}`, `${ENV}@127.0.0.1`], { logLevel: "INFO", timeoutMs: 15_000 })
          .done,
        // The environment's egress policy drops it: nothing answers, so the client is stopped after 3 s.
        ssh([`-W`, "169.254.169.254:80", `${ENV}@127.0.0.1`], { logLevel: "INFO", timeoutMs: 3000 }).done,
      ]);
      assert.notEqual(loop.status, 0);
      assert.match(loop.stderr, /open failed/);
      assert.notEqual(meta.status, 0);
      assert.equal(meta.stdout, "");
      assert.equal(hits, 0, "the host's listener saw no connection");
    } finally {
      host.close();
    }
  });

  it("ends a live session within 1 s of `warren ssh-key rm`", async () => {
    const live = ssh([`${ENV}@127.0.0.1`, "echo started; sleep 300"]);
    await waitFor("the session", () => live.out().includes("started"));
    const ls = JSON.parse(h.cli(["ssh-key", "ls", "--json"]).stdout) as { id: string }[];
    assert.equal(ls.length, 1);
    let endedAt = 0;
    void live.done.then(() => (endedAt = performance.now()));
    const rm = await h.cliAsync(["ssh-key", "rm", ls[0]?.id ?? ""]);
    const removedAt = performance.now();
    assert.equal(rm.status, 0, rm.stderr);
    const r = await live.done;
    assert.match(r.stderr, /was removed/);
    // The removal is done when the CLI returns; the session must be gone within 1 s of it.
    assert.ok(endedAt - removedAt < 1000, `ended ${Math.round(endedAt - removedAt)} ms after the removal`);
  });
});
