// Files and sockets through the SSH gateway with the real OpenSSH client: scp and sftp of 50 MiB
// byte-identical both ways, rsync over ssh, a forwarded agent used inside (`ssh -A`), unix-socket
// forwarding (`ssh -L SOCK:/path`), and links inside the environment to the host's files and
// sockets, which reach the environment's own files or nothing, never the host's.

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import { loginToGateway, sshClientOptions } from "@warren/testing/ssh-login";

const ENV = "sshf";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("SSH gateway: files, agent and unix sockets (e2e)", { timeout: 120_000 }, () => {
  let h: Harness;
  let port = 0;
  let key = "";
  let knownHosts = "";
  let agentSock = "";
  let agentPid = 0;
  let hostHits = 0;
  let hostServer: net.Server | undefined;
  const hostSock = () => `${h.root}/host-secret.sock`;
  const children = new Set<ChildProcess>();

  const opts = () => sshClientOptions({ knownHosts, key });
  const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
      child.once("close", (status) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ status, stdout, stderr });
      }),
    );
    return { child, done };
  };
  const ssh = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run("ssh", [...opts(), "-p", String(port), ...args], env).done;
  const inside = async (script: string) => {
    const r = await ssh([`${ENV}@127.0.0.1`, script]);
    assert.equal(r.status, 0, `${script}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    h = await makeHarness("sshf");
    await h.startDaemon({ WARREN_SSH_LISTEN: "127.0.0.1:0" });
    const up = h.cli(["up", "--name", ENV, "--memory", "512m", "--disk", "1g", "--detach"]);
    assert.equal(up.status, 0, up.stderr);
    ({ port, key, knownHosts } = await loginToGateway(h));

    // A local agent holding a second key, only for `ssh -A`.
    agentSock = `${h.root}/agent.sock`;
    const ag = spawnSync("ssh-agent", ["-a", agentSock, "-s"], { encoding: "utf8" });
    agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(ag.stdout)?.[1] ?? 0);
    assert.ok(agentPid > 0, ag.stderr);
    const agentKey = `${h.root}/agent_key`;
    assert.equal(
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "agent-key", "-f", agentKey]).status,
      0,
    );
    const sa = spawnSync("ssh-add", [agentKey], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSock },
      encoding: "utf8",
    });
    assert.equal(sa.status, 0, sa.stderr);

    // A unix socket on the host that no path inside the environment may reach.
    hostServer = net.createServer((c) => {
      hostHits++;
      c.end("host secret\n");
    });
    await new Promise<void>((r) => hostServer!.listen(hostSock(), r));
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    if (agentPid) process.kill(agentPid, "SIGTERM");
    hostServer?.close();
    await h?.teardown();
  });

  it("scp and sftp put and get 50 MiB byte-identical", async () => {
    const dir = `${h.root}/files`;
    mkdirSync(dir);
    const data = randomBytes(50 * 1024 * 1024);
    writeFileSync(`${dir}/big`, data);
    const scpArgs = [...opts(), "-P", String(port)];
    const put = await run("scp", [...scpArgs, `${dir}/big`, `${ENV}@127.0.0.1:/tmp/big-scp`]).done;
    assert.equal(put.status, 0, put.stderr);
    const get = await run("scp", [...scpArgs, `${ENV}@127.0.0.1:/tmp/big-scp`, `${dir}/back-scp`]).done;
    assert.equal(get.status, 0, get.stderr);
    assert.equal(sha(readFileSync(`${dir}/back-scp`)), sha(data), "scp round trip is byte-identical");

    writeFileSync(`${dir}/batch`, `put ${dir}/big /tmp/big-sftp\nget /tmp/big-sftp ${dir}/back-sftp\n`);
    const sftp = await run("sftp", [...opts(), "-P", String(port), "-b", `${dir}/batch`, `${ENV}@127.0.0.1`])
      .done;
    assert.equal(sftp.status, 0, sftp.stderr);
    assert.equal(sha(readFileSync(`${dir}/back-sftp`)), sha(data), "sftp round trip is byte-identical");
    const inEnv = await inside("sha256sum /tmp/big-scp /tmp/big-sftp | cut -d' ' -f1");
    assert.equal(inEnv, `${sha(data)}\n${sha(data)}\n`, "the files inside are the ones sent");
    await inside("rm -f /tmp/big-scp /tmp/big-sftp");
  });

  it("rsync -e ssh copies a tree in and back", async () => {
    const src = `${h.root}/tree`;
    mkdirSync(`${src}/sub`, { recursive: true });
    const files = { a: randomBytes(300_000), "sub/b": Buffer.from("hello\n"), "sub/c": randomBytes(5) };
    for (const [n, b] of Object.entries(files)) writeFileSync(`${src}/${n}`, b);
    const e = ["ssh", ...opts(), "-p", String(port)].join(" ");
    const push = await run("rsync", ["-a", "-e", e, `${src}/`, `${ENV}@127.0.0.1:/tmp/tree/`]).done;
    assert.equal(push.status, 0, push.stderr);
    const pull = await run("rsync", ["-a", "-e", e, `${ENV}@127.0.0.1:/tmp/tree/`, `${h.root}/tree-back/`])
      .done;
    assert.equal(pull.status, 0, pull.stderr);
    for (const [n, b] of Object.entries(files)) {
      assert.ok(readFileSync(`${h.root}/tree-back/${n}`).equals(b), `${n} came back identical`);
    }
  });

  it("ssh -A: the laptop's agent is usable inside, and only through the forwarded socket", async () => {
    const local = spawnSync("ssh-add", ["-l"], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSock },
      encoding: "utf8",
    });
    const fingerprint = /SHA256:\S+/.exec(local.stdout)?.[0];
    assert.ok(fingerprint, local.stdout);
    const r = await ssh(["-A", `${ENV}@127.0.0.1`, "echo sock=$SSH_AUTH_SOCK; ssh-add -l"], {
      SSH_AUTH_SOCK: agentSock,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sock=\/tmp\/warren-agent-[0-9a-f]+\/agent\.sock$/m);
    assert.ok(r.stdout.includes(fingerprint), `ssh-add -l inside lists the agent's key: ${r.stdout}`);
    // Without -A there is no agent inside.
    const none = await ssh([`${ENV}@127.0.0.1`, "echo sock=$SSH_AUTH_SOCK"]);
    assert.equal(none.stdout, "sock=\n");
  });

  it("links to the host's socket, the daemon's socket and /etc/shadow reach nothing of the host", async () => {
    await inside(
      `ln -sf ${hostSock()} /tmp/l-host; ln -sf ${h.socket} /tmp/l-daemon; ` +
        "ln -sf /run/warren/warren.sock /tmp/l-run; ln -sf /etc/shadow /tmp/l-shadow",
    );
    const dir = `${h.root}/links`;
    mkdirSync(dir);
    // sftp: the link to /etc/shadow is the environment's shadow; links to host sockets are nothing.
    writeFileSync(`${dir}/batch`, `get /tmp/l-shadow ${dir}/shadow\n`);
    const got = await run("sftp", [...opts(), "-P", String(port), "-b", `${dir}/batch`, `${ENV}@127.0.0.1`])
      .done;
    assert.equal(got.status, 0, got.stderr);
    const envShadow = await inside("cat /etc/shadow");
    assert.equal(
      readFileSync(`${dir}/shadow`, "utf8"),
      envShadow,
      "sftp read the environment's own /etc/shadow",
    );
    assert.notEqual(envShadow, readFileSync("/etc/shadow", "utf8"), "not the host's");
    const links = ["/tmp/l-host", "/tmp/l-daemon", "/tmp/l-run"];
    // "-get": sftp goes on after a failed command, so one session tries every link.
    writeFileSync(`${dir}/batch`, links.map((l, i) => `-get ${l} ${dir}/out${i}\n`).join(""));
    const r = await run("sftp", [...opts(), "-P", String(port), "-b", `${dir}/batch`, `${ENV}@127.0.0.1`])
      .done;
    for (const [i, link] of links.entries()) {
      assert.equal(existsSync(`${dir}/out${i}`), false, `sftp get ${link} got nothing`);
    }
    assert.equal(
      r.stderr.match(/No such file/g)?.length,
      links.length,
      `sftp found none of them: ${r.stderr}`,
    );

    // ssh -L to the links: the forwards open, each connection through them gets nothing.
    const locals = links.map((_, i) => `${dir}/fwd${i}.sock`);
    const fwd = run("ssh", [
      ...opts(),
      "-p",
      String(port),
      "-N",
      ...links.flatMap((l, i) => ["-L", `${locals[i]}:${l}`]),
      `${ENV}@127.0.0.1`,
    ]);
    for (let i = 0; i < 100 && !locals.every((l) => existsSync(l)); i++) await sleep(50);
    assert.ok(
      locals.every((l) => existsSync(l)),
      "ssh made the local end of every forward",
    );
    const answers = await Promise.all(
      locals.map(
        (local) =>
          new Promise<string>((resolve) => {
            let text = "";
            const c = net.connect(local);
            c.on("data", (d) => (text += d.toString()));
            c.on("error", () => resolve(text));
            c.on("close", () => resolve(text));
            c.write("GET /api/v1/health HTTP/1.0\r\n\r\n");
          }),
      ),
    );
    fwd.child.kill("SIGTERM");
    await fwd.done;
    assert.deepEqual(answers, ["", "", ""], "nothing came back through any link");

    // The agent path: a client inside pointed at a link to a host socket reaches nothing.
    const agent = await ssh(
      ["-A", `${ENV}@127.0.0.1`, "SSH_AUTH_SOCK=/tmp/l-host ssh-add -l; echo status=$?"],
      {
        SSH_AUTH_SOCK: agentSock,
      },
    );
    assert.match(agent.stdout, /status=2/, agent.stdout + agent.stderr);
    assert.equal(hostHits, 0, "no connection reached the host's socket");
  });

  it("ssh -L to a unix socket inside reaches it", async () => {
    await inside("eval $(ssh-agent -a /tmp/in-env-agent.sock) >/dev/null");
    const local = `${h.root}/fwd-agent.sock`;
    const fwd = run("ssh", [
      ...opts(),
      "-p",
      String(port),
      "-N",
      "-L",
      `${local}:/tmp/in-env-agent.sock`,
      `${ENV}@127.0.0.1`,
    ]);
    for (let i = 0; i < 100 && !existsSync(local); i++) await sleep(50);
    const r = spawnSync("ssh-add", ["-l"], {
      env: { ...process.env, SSH_AUTH_SOCK: local },
      encoding: "utf8",
    });
    fwd.child.kill("SIGTERM");
    await fwd.done;
    // An empty agent answers "no identities" (status 1); a failed connection is status 2.
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /no identities/);
  });
});
