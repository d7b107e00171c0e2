// The SSH gateway in the real daemon wiring (runDaemon with the fake runner), driven by the real
// OpenSSH client: who gets in, that every refusal looks the same, that commands and their exit
// status pass through, and that removing a key or a member ends a live session within 1 s.

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import type { ExecHandlers, ExecRequest, ExecSession } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { sshClientOptions } from "@warren/testing/ssh-login";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { createSshKeyService } from "../src/services/ssh-keys.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

/** The gateway runs commands as `sh -c '... bash -c "$1" ...' sh CMD`; the fake runs CMD's words. */
class ShellFakeRunner extends FakeRunner {
  override exec(id: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession> {
    const cmd =
      req.cmd[0] === "/bin/sh" && req.cmd.length > 3 ? (req.cmd.at(-1) ?? "").split(/\s+/) : ["cat"];
    return super.exec(id, { ...req, cmd }, h);
  }
}

const tmp = tempDir("warren-ssh-gw-");
const runner = new ShellFakeRunner();
let d: Daemon;
let port = 0;
const knownHosts = path.join(tmp.dir, "known_hosts");
const children = new Set<ChildProcess>();

function keygen(name: string): { file: string; pub: string } {
  const file = path.join(tmp.dir, name);
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  assert.equal(r.status, 0, String(r.stderr));
  return { file, pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

interface SshRun {
  child: ChildProcess;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

function ssh(key: string, user: string, args: string[], logLevel = "ERROR"): SshRun {
  const child = spawn(
    "ssh",
    [...sshClientOptions({ knownHosts, key, logLevel }), "-p", String(port), `${user}@127.0.0.1`, ...args],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (status) => {
      children.delete(child);
      resolve({ status, stdout, stderr });
    }),
  );
  return { child, done };
}

async function inject<T>(method: "GET" | "POST" | "DELETE", url: string, payload?: object): Promise<T> {
  const r = await d.app.inject({ method, url, ...(payload !== undefined ? { payload } : {}) });
  assert.ok(r.statusCode < 300, `${method} ${url}: ${r.statusCode} ${r.body}`);
  return (r.body ? JSON.parse(r.body) : undefined) as T;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const root = keygen("root");
const stranger = keygen("stranger");
const member = keygen("member");
const outsider = keygen("outsider");
let rootKeyId = "";

before(async () => {
  d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    runner,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
    sshListen: "127.0.0.1:0",
  });
  await inject("POST", "/api/v1/environments?wait=1", { name: "dev" });
  const gw = await inject<{ listening: boolean; port: number; hostKey: string; fingerprint: string }>(
    "GET",
    "/api/v1/ssh/gateway",
  );
  assert.equal(gw.listening, true);
  assert.ok(gw.port > 0 && gw.hostKey.startsWith("ssh-ed25519 ") && gw.fingerprint.startsWith("SHA256:"));
  port = gw.port;
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${gw.hostKey}\n`);
  rootKeyId = (await inject<{ id: string }>("POST", "/api/v1/ssh-keys", { publicKey: root.pub })).id;
  // Someone in another organisation, with a key of their own there.
  const now = new Date().toISOString();
  await d.store.db.insertInto("orgs").values({ id: "org_b", name: "b", created_at: now }).execute();
  await d.store.db.insertInto("users").values({ id: "usr_b", name: "bea", created_at: now }).execute();
  await d.store.db
    .insertInto("memberships")
    .values({ org_id: "org_b", user_id: "usr_b", role: "owner", created_at: now })
    .execute();
  await createSshKeyService({ db: d.store.db, clock: systemClock }).add(
    { kind: "user", userId: "usr_b", orgId: "org_b", role: "owner", via: "token" },
    { publicKey: outsider.pub },
  );
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await d?.close();
  tmp.cleanup();
});

test("a registered key runs commands in its environment; the exit status passes through", async () => {
  const echo = await ssh(root.file, "dev", ["echo", "hello", "gateway"]).done;
  assert.equal(echo.stdout, "hello gateway\n");
  assert.equal(echo.status, 0);
  assert.equal((await ssh(root.file, "dev.default", ["exit", "7"]).done).status, 7);
  const stdin = ssh(root.file, "dev", ["cat"]);
  stdin.child.stdin?.end("through stdin\n");
  const cat = await stdin.done;
  assert.equal(cat.stdout, "through stdin\n", "the client's EOF ends the command's input");
  assert.equal(cat.status, 0);
});

test("a stranger's key, an unknown or other organisation's environment and a bad username: one refusal", async () => {
  const refusal = async (key: string, user: string) => {
    const r = await ssh(key, user, ["echo", "in"]).done;
    assert.equal(r.status, 255, `${user}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    return r.stderr.replace(`${user}@127.0.0.1`, "USER@HOST");
  };
  const expected = await refusal(stranger.file, "dev");
  assert.match(expected, /Permission denied \(publickey\)/);
  assert.equal(await refusal(root.file, "nosuch"), expected, "unknown environment");
  assert.equal(await refusal(root.file, "dev.b"), expected, "an organisation the key's user is not in");
  assert.equal(await refusal(outsider.file, "dev.default"), expected, "another organisation's environment");
  assert.equal(await refusal(outsider.file, "dev"), expected, "another organisation's environment by name");
  assert.equal(await refusal(root.file, "Dev_1"), expected, "malformed username");
});

test("a login to a stopped environment starts it first", async () => {
  await inject("POST", "/api/v1/environments/dev/stop");
  assert.equal((await inject<{ state: string }>("GET", "/api/v1/environments/dev")).state, "stopped");
  const r = await ssh(root.file, "dev", ["echo", "woke"]).done;
  assert.equal(r.stdout, "woke\n", r.stderr);
  const env = await inject<{ state: string }>("GET", "/api/v1/environments/dev");
  assert.equal(env.state, "running");
});

test("garbage on the port closes that connection and nothing else", async () => {
  await new Promise<void>((resolve) => {
    const s = net.connect(port, "127.0.0.1", () =>
      s.write("SSH-2.0-x\r\n\u0000\u0001garbage\u00ff".repeat(50)),
    );
    s.on("error", () => {});
    s.on("close", () => resolve());
    s.resume();
  });
  assert.equal((await ssh(root.file, "dev", ["echo", "still", "here"]).done).stdout, "still here\n");
});

test("direct-tcpip dials inside the environment; a name is refused with the reason", async () => {
  const envId = (await inject<{ id: string }>("GET", "/api/v1/environments/dev")).id;
  runner.listeners.set(`${envId}:8080`, (sock) => sock.end("from inside\n"));
  const w = await ssh(root.file, "dev", ["-W", "127.0.0.1:8080"]).done;
  assert.equal(w.stdout, "from inside\n");
  const named = await ssh(root.file, "dev", ["-W", "example.com:8080"], "INFO").done;
  assert.notEqual(named.status, 0);
  assert.match(named.stderr, /not an IP address/);
});

test("direct-tcpip delivers everything the server sent before it closed (16 MiB), not a truncated tail", async () => {
  const envId = (await inject<{ id: string }>("GET", "/api/v1/environments/dev")).id;
  // Base64 text, so the helper's string capture compares it exactly.
  const body = randomBytes(12 * 1024 * 1024).toString("base64");
  runner.listeners.set(`${envId}:8081`, (sock) => sock.end(body));
  const w = await ssh(root.file, "dev", ["-W", "127.0.0.1:8081"]).done;
  assert.equal(w.stdout.length, body.length, "every byte arrived");
  assert.ok(w.stdout === body, "in order, unchanged");
});

async function liveThenEnd(
  key: string,
  endIt: () => Promise<unknown>,
): Promise<{ ms: number; stderr: string }> {
  const before = runner.execSignals.length;
  const execs = runner.callsOf("exec").length;
  const s = ssh(key, "dev", ["sleep"]);
  await until("the session's command", () => runner.callsOf("exec").length > execs);
  const t0 = performance.now();
  await endIt();
  const r = await Promise.race([
    s.done,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the session was not ended")), 3000)),
  ]);
  const ms = performance.now() - t0;
  assert.ok(runner.execSignals.length > before, "the command was killed");
  return { ms, stderr: r.stderr };
}

test("removing a member ends their live SSH session within 1 s", async () => {
  const m = await inject<{ userId: string }>("POST", "/api/v1/orgs/default/members", {
    name: "mo",
    role: "admin",
  });
  await createSshKeyService({ db: d.store.db, clock: systemClock }).add(
    { kind: "user", userId: m.userId, orgId: BOOTSTRAP_ORG_ID, role: "admin", via: "token" },
    { publicKey: member.pub },
  );
  const r = await liveThenEnd(member.file, () =>
    inject("DELETE", `/api/v1/orgs/default/members/${m.userId}`),
  );
  assert.ok(r.ms < 1000, `ended after ${r.ms} ms`);
  assert.match(r.stderr, /no longer a member/);
});

test("removing the key ends its live SSH session within 1 s, and the key no longer gets in", async () => {
  const r = await liveThenEnd(root.file, () => inject("DELETE", `/api/v1/ssh-keys/${rootKeyId}`));
  assert.ok(r.ms < 1000, `ended after ${r.ms} ms`);
  assert.match(r.stderr, /was removed/);
  const again = await ssh(root.file, "dev", ["echo", "in"]).done;
  assert.equal(again.status, 255);
  assert.match(again.stderr, /Permission denied \(publickey\)/);
});
