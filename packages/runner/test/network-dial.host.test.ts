// dialInEnv against a real network namespace: a server bound to the namespace's own 127.0.0.1
// is reachable through the dial and not from the host's namespace.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { run } from "../src/host/run.ts";
import { dialInEnv } from "../src/network/dial.ts";

let dir: string;
let netns: string;
let server: ChildProcess | undefined;
let port: number;

// Echoes "pong:<data>". Exits when its stdin closes, so it dies with the test even on a crash.
const SERVER = `
const net = require("node:net");
const s = net.createServer((c) => c.on("data", (d) => c.write("pong:" + d)));
s.listen(Number(process.argv[1]), "127.0.0.1", () => console.log("ready"));
process.stdin.on("end", () => process.exit(0)).resume();
`;

/** A port nothing on the host listens on, so "refused on the host" means what it says. */
async function freeHostPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function exchange(sock: net.Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    sock.once("data", (d) => resolve(String(d)));
    sock.once("error", reject);
    sock.write(msg);
  });
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "warren-dial-"));
  netns = path.join(dir, "netns");
  writeFileSync(netns, "");
  // unshare --net=FILE bind-mounts the new namespace onto FILE, as the network helper does.
  await run("unshare", [`--net=${netns}`, "true"]);
  await run("nsenter", [`--net=${netns}`, "ip", "link", "set", "lo", "up"]);
  port = await freeHostPort();
  const child = spawn("nsenter", [`--net=${netns}`, process.execPath, "-e", SERVER, String(port)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  server = child;
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`server exited early (${code})`)));
    child.stdout!.once("data", () => resolve());
  });
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGKILL");
    await exited;
  }
  if (netns && existsSync(netns)) await run("umount", [netns], { allowFail: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("dialInEnv reaches a server on the environment's 127.0.0.1 and exchanges bytes", async () => {
  const sock = await dialInEnv(netns, port);
  try {
    assert.equal(sock.remoteAddress, "127.0.0.1");
    assert.equal(sock.remotePort, port);
    assert.equal(await exchange(sock, "ping"), "pong:ping");
    assert.equal(await exchange(sock, "again"), "pong:again", "the stream stays usable");
  } finally {
    sock.destroy();
  }
});

test("the same port is refused in the host's own namespace", async () => {
  const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      reject(new Error("the environment's port is reachable from the host namespace"));
    });
    s.once("error", resolve);
  });
  assert.equal(err.code, "ECONNREFUSED");
});

test("a closed port inside the namespace rejects with ECONNREFUSED", async () => {
  const closed = port === 65535 ? port - 1 : port + 1;
  await assert.rejects(dialInEnv(netns, closed), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, "ECONNREFUSED");
    assert.match(e.message, new RegExp(`dial 127\\.0\\.0\\.1:${closed} in ${netns}`));
    return true;
  });
});

test("IPv6 sockets are made in the namespace too", { skip: !existsSync("/proc/net/if_inet6") }, async () => {
  // The server listens on IPv4 only, so ::1 refuses: proof the v6 socket was made and tried.
  await assert.rejects(dialInEnv(netns, port, "::1"), { code: "ECONNREFUSED" });
});

test("an unroutable address fails fast, with the errno kept", async () => {
  // A fresh namespace has only lo, so there is no route to anything else.
  await assert.rejects(dialInEnv(netns, 80, "192.0.2.1"), { code: "ENETUNREACH" });
});

test("a connect that hangs is abandoned after timeoutMs", async () => {
  // A listener that never accepts, with a backlog of 0: once its queue is full the kernel drops
  // further SYNs, so the next connect neither succeeds nor fails until the timeout.
  const py =
    "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',int(sys.argv[1])))\ns.listen(0)\nprint('ready',flush=True)\nsys.stdin.read()";
  const stuckPort = port === 65535 ? port - 2 : port + 2;
  const child = spawn("nsenter", [`--net=${netns}`, "python3", "-c", py, String(stuckPort)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const held: net.Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`listener exited early (${code})`)));
      child.stdout!.once("data", () => resolve());
    });
    let timedOut: NodeJS.ErrnoException | undefined;
    for (let i = 0; i < 8 && !timedOut; i++) {
      const t0 = Date.now();
      try {
        held.push(await dialInEnv(netns, stuckPort, "127.0.0.1", 300));
      } catch (err) {
        timedOut = err as NodeJS.ErrnoException;
        assert.ok(Date.now() - t0 >= 250, `gave up after ${Date.now() - t0} ms`);
      }
    }
    assert.equal(timedOut?.code, "ETIMEDOUT", String(timedOut));
    assert.match(timedOut!.message, /timed out after 300 ms/);
  } finally {
    for (const s of held) s.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
  }
});

test("bad namespaces and arguments are refused clearly", async () => {
  await assert.rejects(dialInEnv(path.join(dir, "missing"), port), { code: "ENOENT" });
  const notNs = path.join(dir, "plain-file");
  writeFileSync(notNs, "");
  await assert.rejects(dialInEnv(notNs, port), /not a network namespace/);
  await assert.rejects(dialInEnv(netns, port, "example.com"), { code: "INVALID_ARGUMENT" });
  await assert.rejects(dialInEnv(netns, 0), { code: "INVALID_ARGUMENT" });
});

test("dials leak no file descriptors, on success or failure", async () => {
  const before = openFds();
  for (let i = 0; i < 50; i++) {
    const sock = await dialInEnv(netns, port);
    await new Promise<void>((r) => sock.end(r).once("close", () => r()));
    sock.destroy();
    await assert.rejects(dialInEnv(netns, port + 1 > 65535 ? port - 1 : port + 1));
    await assert.rejects(dialInEnv(path.join(dir, "missing"), port));
  }
  // Destroyed handles close their fds on the next loop turn.
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(openFds() <= before + 2, `fds before ${before}, after ${openFds()}`);
});
