// Ingress streams between replicas: two replicas on one PostgreSQL database, a fake runner (over
// the real runner protocol) connected to replica A, and the SSH gateway and port proxy of replica
// B. B authenticates the person (the SSH key's signature, the port session's cookie) and relays
// the stream to A's internal listener naming them; A reads their rights again from the store
// before it dials or runs anything. The attacker cases speak to A's listener directly, as a
// replica (or anyone holding a cluster certificate) that vouches for whoever it likes would.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import { connectRunner, type ExecHandlers, type ExecRequest, type ExecSession } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { sshClientOptions } from "@warren/testing/ssh-login";
import WebSocket, { WebSocketServer } from "ws";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { type IngressPeer, relayDial } from "../src/relay/ingress-client.ts";
import {
  encodeCall,
  INGRESS_CALL_HEADER,
  INGRESS_PATH,
  type IngressCall,
} from "../src/relay/ingress-wire.ts";
import { generateCa, issueLeaf, loadOrCreateCa } from "../src/relay/relay-ca.ts";
import { secretsBox } from "../src/services/secrets.ts";
import { createSshKeyService } from "../src/services/ssh-keys.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";

/** The gateway runs commands as `sh -c '... bash -c "$1" ...' sh CMD`; the fake runs CMD's words. */
class ShellFakeRunner extends FakeRunner {
  override exec(id: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession> {
    const cmd =
      req.cmd[0] === "/bin/sh" && req.cmd.length > 3 ? (req.cmd.at(-1) ?? "").split(/\s+/) : ["cat"];
    return super.exec(id, { ...req, cmd }, h);
  }
}

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
const children = new Set<ChildProcess>();
let a: Daemon;
let b: Daemon;
let rootA: string;
let tmpDir: string;
let runner: ShellFakeRunner;
let envId: string;
let alice: { id: string; token: string };
let sshPort = 0;
let proxyPort = 0;
let knownHosts = "";
let rootKey = "";

async function replica(db: string, root: string, extra: Partial<Parameters<typeof runDaemon>[0]>) {
  const d = await runDaemon({
    socketPath: path.join(root, "run", "warren.sock"),
    root,
    db,
    defaultRuntime: "runc",
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 8000,
    backoff: { baseMs: 20, maxMs: 200 },
    listen: "127.0.0.1:0",
    relayListen: "127.0.0.1:0",
    ...extra,
  });
  cleanups.push(() => d.close());
  return d;
}

function keygen(name: string): { file: string; pub: string } {
  const file = path.join(tmpDir, name);
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  assert.equal(r.status, 0, String(r.stderr));
  return { file, pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

/** An app "inside" the environment on `port`: answers who asked, through the runner's dial. */
function serveHttp(port: number): void {
  const app = http.createServer((req, res) => res.end(`app saw ${req.method} ${req.url}`));
  const wss = new WebSocketServer({ noServer: true });
  app.on("upgrade", (req, sock, head) =>
    wss.handleUpgrade(req, sock, head, (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`))),
  );
  cleanups.push(() => {
    wss.close();
    app.close();
  });
  runner.listeners.set(`${envId}:${port}`, (sock) => {
    const self = () => sock;
    app.emit(
      "connection",
      Object.assign(sock, { setTimeout: self, setNoDelay: self, setKeepAlive: self, ref: self, unref: self }),
    );
  });
}

before(async () => {
  cluster = await startPgCluster();
  const db = cluster.url(await cluster.createDatabase({ migrated: false }));
  const [ta, tb] = [tempDir("warren-relay-ing-a-"), tempDir("warren-relay-ing-b-")];
  cleanups.push(ta.cleanup, tb.cleanup);
  rootA = ta.dir;
  tmpDir = tb.dir;
  a = await replica(db, ta.dir, {});
  mkdirSync(path.join(tb.dir, "keys"), { recursive: true, mode: 0o700 });
  copyFileSync(path.join(ta.dir, "keys", "secrets.key"), path.join(tb.dir, "keys", "secrets.key"));
  b = await replica(db, tb.dir, { sshListen: "127.0.0.1:0", portProxy: { listen: "127.0.0.1:0" } });
  assert.ok(a.relay && b.relay, "both replicas run a relay listener");

  runner = new ShellFakeRunner();
  const rt = await a.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "h" },
  });
  const conn = await connectRunner(
    { url: `https://127.0.0.1:${a.tls!.port}`, fingerprint: a.tls!.fingerprint, token: rt.json().token },
    runner,
  );
  cleanups.push(() => conn.close());
  await conn.ready;
  const created = await a.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  envId = created.json().id;
  assert.equal(runner.envs.get(envId)?.state, "running");
  alice = (await a.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "alice" } })).json();

  const gw = (await b.app.inject({ method: "GET", url: "/api/v1/ssh/gateway" })).json();
  assert.equal(gw.listening, true);
  sshPort = gw.port;
  knownHosts = path.join(tmpDir, "known_hosts");
  writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${gw.hostKey}\n`);
  const key = keygen("root");
  rootKey = key.file;
  const added = await a.app.inject({
    method: "POST",
    url: "/api/v1/ssh-keys",
    payload: { publicKey: key.pub },
  });
  assert.ok(added.statusCode < 300, added.body);
  proxyPort = (await b.app.inject({ method: "GET", url: "/api/v1/http/proxy" })).json().port;
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

function ssh(
  args: string[],
  input?: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    "ssh",
    [...sshClientOptions({ knownHosts, key: rootKey }), "-p", String(sshPort), "dev@127.0.0.1", ...args],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  return new Promise((resolve) =>
    child.once("close", (status) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ status, stdout, stderr });
    }),
  );
}

function viaB(
  host: string,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: proxyPort, path: p, headers: { host, ...headers }, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("B's SSH gateway and port proxy reach the environment whose runner A holds", async () => {
  assert.equal(b.hub?.connected().length, 0, "B holds no runner: without a relay every stream is a 503");

  const hello = await ssh(["echo", "hello", "relay"]);
  assert.equal(hello.stdout, "hello relay\n", hello.stderr);
  assert.equal(hello.status, 0);
  assert.equal((await ssh(["exit", "7"])).status, 7, "the command's own status passes through");
  const cat = await ssh(["cat"], "stdin through two replicas\n");
  assert.equal(cat.stdout, "stdin through two replicas\n", "stdin and its EOF pass through");

  // `ssh -W` is a direct-tcpip channel (what -L opens per connection); the echo server ends when
  // the client's EOF reaches it, so a half-close crosses both replicas.
  runner.listeners.set(`${envId}:8080`, (sock) => sock.pipe(sock));
  const forwarded = await ssh(["-W", "127.0.0.1:8080"], "ping through -W");
  assert.equal(forwarded.stdout, "ping through -W", forwarded.stderr);

  // A private port: alice signs in on B (a port session), and B's proxy reaches the app on A.
  serveHttp(8081);
  const link = await b.app.inject({
    method: "POST",
    url: "/api/v1/environments/dev/ports/8081/signin-link",
    headers: { authorization: `Bearer ${alice.token}` },
  });
  assert.equal(link.statusCode, 200, link.body);
  const url = new URL(link.json().url);
  const signin = await viaB(url.host, url.pathname + url.search);
  const cookie = String(signin.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
  assert.ok(cookie.includes("="), `a session cookie: ${signin.status} ${signin.body}`);
  const page = await viaB(url.host, "/hello?x=1", { cookie });
  assert.equal(page.status, 200, page.body);
  assert.equal(page.body, "app saw GET /hello?x=1");
  // A WebSocket through the proxy: its own relayed dial (an upgraded connection is never pooled).
  const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws`, { headers: { host: url.host, cookie } });
  const echoed = await new Promise<string>((resolve, reject) => {
    ws.on("open", () => ws.send("over the proxy"));
    ws.on("message", (m) => resolve(String(m)));
    ws.on("error", reject);
  });
  ws.close();
  assert.equal(echoed, "echo:over the proxy");
  const anonymous = await viaB(url.host, "/hello");
  assert.notEqual(anonymous.status, 200, "without the session B itself refuses");
});

test("A decides a relayed stream itself: non-members, removed members, revoked tokens, no certificate", async () => {
  const db = a.store.db;
  const leaf = await issueLeaf(
    await loadOrCreateCa(db, secretsBox(rootA), () => new Date().toISOString()),
    "test-peer",
    ["IP:127.0.0.1"],
  );
  const caPem = leaf.caPem;
  const peer: IngressPeer = {
    peer: { replicaId: "a", url: a.relay!.url, fingerprint: a.relay!.fingerprint },
    tls: { caPem, certPem: leaf.certPem, keyPem: leaf.keyPem },
    selfId: "test-peer",
  };
  runner.listeners.set(`${envId}:8080`, (sock) => sock.pipe(sock));
  const roundTrip = async (call: IngressCall): Promise<string> => {
    const s: Duplex = await relayDial(peer, call);
    return new Promise((resolve, reject) => {
      let got = "";
      s.on("data", (c: Buffer) => (got += c.toString()));
      s.on("end", () => resolve(got));
      s.on("error", reject);
      s.end("echo me");
    });
  };
  const refusal = (call: IngressCall) =>
    relayDial(peer, call).then(
      (s) => {
        s.destroy();
        return "dialled";
      },
      (err: { code?: string }) => err.code ?? String(err),
    );
  const owner = { kind: "user" as const, userId: BOOTSTRAP_OWNER_ID, orgId: BOOTSTRAP_ORG_ID };

  // The owner with a live token reaches the private port (so the refusals below are decisions).
  const ok = { caller: { ...owner, tokenId: alice.id }, envId, via: "proxy" as const, port: 8080 };
  assert.equal(await roundTrip(ok), "echo me");

  // Someone of another organisation, named as themselves or as a member of the environment's.
  const now = new Date().toISOString();
  await db.insertInto("orgs").values({ id: "org_other", name: "other", created_at: now }).execute();
  for (const [id, name] of [
    ["usr_eve", "eve"],
    ["usr_bob", "bob"],
  ] as const)
    await db.insertInto("users").values({ id, name, created_at: now }).execute();
  await db
    .insertInto("memberships")
    .values([
      { org_id: "org_other", user_id: "usr_eve", role: "owner", created_at: now },
      { org_id: BOOTSTRAP_ORG_ID, user_id: "usr_bob", role: "admin", created_at: now },
    ])
    .execute();
  const keys = createSshKeyService({ db, clock: systemClock });
  const eve = { kind: "user" as const, userId: "usr_eve", orgId: "org_other" };
  const eveKey = await keys.add({ ...eve, role: "owner", via: "token" }, { publicKey: keygen("eve").pub });
  assert.equal(await refusal({ caller: eve, envId, via: "proxy", port: 8080 }), "ENV_NOT_FOUND");
  assert.equal(
    await refusal({ caller: { ...eve, orgId: BOOTSTRAP_ORG_ID }, envId, via: "proxy", port: 8080 }),
    "FORBIDDEN",
    "claiming membership of the environment's organisation does not make it so",
  );
  assert.equal(
    await refusal({ caller: { ...eve, sshKeyId: eveKey.id }, envId, via: "ssh", port: 8080 }),
    "ENV_NOT_FOUND",
  );
  assert.equal(
    await refusal({
      caller: { ...eve, orgId: BOOTSTRAP_ORG_ID, sshKeyId: eveKey.id },
      envId,
      via: "ssh",
      port: 8080,
    }),
    "UNAUTHENTICATED",
  );
  assert.equal(
    await refusal({ caller: { kind: "anonymous" }, envId, via: "proxy", port: 8080 }),
    "UNAUTHENTICATED",
  );
  assert.equal(
    await refusal({ caller: owner, envId, via: "ssh", port: 8080 }),
    "UNAUTHENTICATED",
    "an SSH call names the key",
  );

  // An admin of the environment's organisation reaches it over SSH, until removed from it.
  const bob = { kind: "user" as const, userId: "usr_bob", orgId: BOOTSTRAP_ORG_ID };
  const bobKey = await keys.add({ ...bob, role: "admin", via: "token" }, { publicKey: keygen("bob").pub });
  const bobCall = { caller: { ...bob, sshKeyId: bobKey.id }, envId, via: "ssh" as const, port: 8080 };
  assert.equal(await roundTrip(bobCall), "echo me");
  await db.deleteFrom("memberships").where("user_id", "=", "usr_bob").execute();
  assert.equal(await refusal(bobCall), "UNAUTHENTICATED", "a removed member");

  // A revoked token behind a port session.
  const revoked = await a.app.inject({ method: "DELETE", url: `/api/v1/tokens/${alice.id}` });
  assert.ok(revoked.statusCode < 300, revoked.body);
  assert.equal(await refusal(ok), "UNAUTHENTICATED");

  // Only a replica of this cluster reaches the listener at all.
  const evil = await issueLeaf(await generateCa("another CA"), "evil", ["IP:127.0.0.1"]);
  const raw = (tls: { cert?: string; key?: string }) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(`${a.relay!.url.replace("https:", "wss:")}${INGRESS_PATH}dial`, {
        ca: caPem,
        ...tls,
        checkServerIdentity: () => undefined,
        headers: {
          [INGRESS_CALL_HEADER]: encodeCall({
            caller: { kind: "anonymous" },
            envId,
            via: "proxy",
            port: 8080,
          }),
        },
      } as unknown as WebSocket.ClientOptions);
      ws.on("open", () => resolve("open"));
      ws.on("unexpected-response", (_q, res) => resolve(`http ${res.statusCode}`));
      ws.on("error", (err) => resolve(`error: ${err.message}`));
    });
  assert.match(await raw({}), /^error/, "no client certificate");
  assert.match(await raw({ cert: evil.certPem, key: evil.keyPem }), /^error/, "a certificate of another CA");
  assert.equal(
    await raw({ cert: leaf.certPem, key: leaf.keyPem }),
    "http 401",
    "the cluster's, refused on the merits",
  );
});
