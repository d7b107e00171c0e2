// Port proxy and SSH gateway traffic in /metrics: the real daemon wiring (runDaemon + FakeRunner)
// with both ingress listeners on loopback, an app "inside" the environment (a fake.listeners
// entry), real HTTP, a real WebSocket and the real OpenSSH client. /metrics is scraped as
// Prometheus would: over TCP on the ingress listener, Host an IP literal (the control-plane host),
// with a `metrics:read` token.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { sshClientOptions } from "@warren/testing/ssh-login";
import WebSocket, { WebSocketServer } from "ws";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { createIdentityService, LOCAL_ROOT } from "../src/services/identity.ts";

const tmp = tempDir("warren-metrics-ingress-");
const fake = new FakeRunner();
const children = new Set<ChildProcess>();
let d: Daemon;
let proxyPort = 0;
let sshPort = 0;
let envId = "";
let token = "";
let otherOrgToken = "";
const knownHosts = path.join(tmp.dir, "known_hosts");
const key = path.join(tmp.dir, "id_ed25519");
const backend = http.createServer((req, res) => {
  let n = 0;
  req.on("data", (c: Buffer) => (n += c.length));
  req.on("end", () => res.end("r".repeat(n * 2))); // twice what came in: the directions differ
});
const wss = new WebSocketServer({ noServer: true });
backend.on("upgrade", (req, sock, head) =>
  wss.handleUpgrade(req, sock, head, (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`))),
);

before(async () => {
  d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    runner: fake,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
    sshListen: "127.0.0.1:0",
    portProxy: {
      listen: "127.0.0.1:0",
      ports: { visibility: async () => "public", publicAllowed: async () => true },
    },
  });
  const made = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments?wait=1",
    payload: { name: "dev" },
  });
  assert.equal(made.statusCode, 201, made.body);
  envId = made.json().id;
  fake.listeners.set(`${envId}:8080`, (s) => backend.emit("connection", socketLike(s)));
  proxyPort = (await d.app.inject({ method: "GET", url: "/api/v1/http/proxy" })).json().port;
  const gw = (await d.app.inject({ method: "GET", url: "/api/v1/ssh/gateway" })).json();
  sshPort = gw.port;
  writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${gw.hostKey}\n`);
  assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
  const added = await d.app.inject({
    method: "POST",
    url: "/api/v1/ssh-keys",
    payload: { publicKey: readFileSync(`${key}.pub`, "utf8").trim() },
  });
  assert.equal(added.statusCode, 201, added.body);
  const identity = createIdentityService({ db: d.store.db, clock: systemClock });
  token = (await identity.createToken(LOCAL_ROOT, { name: "prometheus", scopes: ["metrics:read"] })).token;
  // An owner of another organisation: their metrics token must not see this environment's traffic.
  const now = new Date().toISOString();
  await d.store.db.insertInto("orgs").values({ id: "org_b", name: "b", created_at: now }).execute();
  await d.store.db.insertInto("users").values({ id: "usr_b", name: "bea", created_at: now }).execute();
  await d.store.db
    .insertInto("memberships")
    .values({ org_id: "org_b", user_id: "usr_b", role: "owner", created_at: now })
    .execute();
  const bea = { kind: "user", userId: "usr_b", orgId: "org_b", role: "owner", via: "token" } as const;
  otherOrgToken = (await identity.createToken(bea, { name: "p", scopes: ["metrics:read"] })).token;
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await d?.close();
  backend.close();
  tmp.cleanup();
});

/** The in-memory end gets the net.Socket methods node's server calls on a connection. */
function socketLike(s: Duplex): Duplex {
  const self = () => s;
  return Object.assign(s, { setTimeout: self, setNoDelay: self, setKeepAlive: self, ref: self, unref: self });
}

function request(
  host: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: proxyPort,
        method: o.method ?? "GET",
        path: o.path ?? "/",
        headers: { host, ...o.headers },
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const portHost = () => `8080--dev--default.localhost:${proxyPort}`;

/** /metrics through the control-plane host of the ingress listener, as Prometheus scrapes it. */
async function scrape(bearer = token): Promise<string> {
  const r = await request(`127.0.0.1:${proxyPort}`, {
    path: "/metrics",
    headers: { authorization: `Bearer ${bearer}` },
  });
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/** The value of `name{env_id=…,env_name="dev",org="default"[,direction]}`, or undefined. */
function value(text: string, name: string, direction?: string): number | undefined {
  const labels = `env_id="${envId}",env_name="dev",org="default"${direction ? `,direction="${direction}"` : ""}`;
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("proxied requests, their bytes and WebSockets are counted per environment", async () => {
  const before = await scrape();
  // A running environment starts at zero, so a first request is an increase rate() can see.
  assert.equal(value(before, "warren_proxy_requests_total"), 0, before);
  assert.equal(value(before, "warren_proxy_bytes_total", "to_env"), 0);

  const r = await request(portHost(), { method: "POST", path: "/up", body: "u".repeat(3000) });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 6000);
  const after1 = await scrape();
  assert.equal(value(after1, "warren_proxy_requests_total"), 1, after1);
  assert.equal(value(after1, "warren_proxy_bytes_total", "to_env"), 3000);
  assert.equal(value(after1, "warren_proxy_bytes_total", "from_env"), 6000);
  assert.match(after1, /# TYPE warren_proxy_bytes_total counter/);

  const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws`, { headers: { host: portHost() } });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.send("hello");
  const echoed = await new Promise<string>((resolve) => ws.once("message", (m) => resolve(String(m))));
  assert.equal(echoed, "echo:hello");
  const open = await scrape();
  assert.equal(value(open, "warren_proxy_websocket_sessions"), 1, open);
  assert.equal(value(open, "warren_proxy_websocket_sessions_total"), 1);
  assert.equal(value(open, "warren_proxy_requests_total"), 2, "the handshake is a request");
  // WebSocket frames: "hello" masked from the client (5 + 6 bytes), "echo:hello" back (10 + 2).
  assert.equal(value(open, "warren_proxy_bytes_total", "to_env"), 3000 + 11);
  assert.equal(value(open, "warren_proxy_bytes_total", "from_env"), 6000 + 12);
  ws.close();
  await until(
    "the WebSocket gauge back at 0",
    async () => value(await scrape(), "warren_proxy_websocket_sessions") === 0,
  );
  assert.equal(value(await scrape(), "warren_proxy_websocket_sessions_total"), 1);

  // Another organisation's metrics token sees none of it.
  const other = await scrape(otherOrgToken);
  assert.doesNotMatch(other, new RegExp(envId));
  assert.doesNotMatch(other, /warren_proxy_requests_total\{/);
});

test("an SSH login is a session while it lasts, and its bytes are counted", async () => {
  // The app inside writes 64 KiB, then holds the connection until the test has looked.
  let inside: Duplex | undefined;
  fake.listeners.set(`${envId}:8081`, (s) => {
    inside = s;
    s.on("error", () => {});
    s.write("x".repeat(64 * 1024));
  });
  const before = await scrape();
  assert.equal(value(before, "warren_ssh_sessions"), 0, before);
  assert.equal(value(before, "warren_ssh_sessions_total"), 0);

  const child = spawn(
    "ssh",
    [
      ...sshClientOptions({ knownHosts, key }),
      "-p",
      String(sshPort),
      "-W",
      "127.0.0.1:8081",
      "dev@127.0.0.1",
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  let got = 0;
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (got += b.length));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  await until("64 KiB through the gateway", async () => got >= 64 * 1024, 10_000).catch((err) => {
    throw new Error(`${(err as Error).message}; ssh said: ${stderr}`);
  });

  const open = await scrape();
  assert.equal(value(open, "warren_ssh_sessions"), 1, open);
  assert.equal(value(open, "warren_ssh_sessions_total"), 1);
  // The encrypted connection carries at least the payload; the client sent its handshake and auth.
  const fromEnv = value(open, "warren_ssh_bytes_total", "from_env") ?? 0;
  assert.ok(fromEnv >= 64 * 1024, `from_env ${fromEnv}`);
  assert.ok((value(open, "warren_ssh_bytes_total", "to_env") ?? 0) > 1000);

  inside?.end();
  await exited;
  children.delete(child);
  await until("the SSH gauge back at 0", async () => value(await scrape(), "warren_ssh_sessions") === 0);
  const closed = await scrape();
  assert.equal(value(closed, "warren_ssh_sessions_total"), 1);
  // Counters never go back: the ended login's bytes stay in the total.
  assert.ok((value(closed, "warren_ssh_bytes_total", "from_env") ?? 0) >= fromEnv);
});
