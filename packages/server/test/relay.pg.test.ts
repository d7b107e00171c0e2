// Relays between replicas: two replicas on one PostgreSQL database, a fake runner (over the real
// runner protocol) connected to replica A, and a client of replica B. Live calls on B reach A's
// runner through A's internal listener (mutual TLS, a cluster CA kept in the store): exec over a
// WebSocket, logs -f, a port-forward round trip, stats, an image pull. A re-checks every caller
// itself; its relay listener refuses peers without a certificate from the cluster CA.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  Channel,
  type ControlMessage,
  connectRunner,
  parseFrame,
  type Transport,
  tlsTransport,
} from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { callJson } from "@warren/testing/server-process";
import WebSocket from "ws";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { generateCa, issueLeaf, loadOrCreateCa } from "../src/relay/relay-ca.ts";
import { RELAY_HEADER } from "../src/relay/relay-forward.ts";
import { secretsBox } from "../src/services/secrets.ts";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
let a: Daemon;
let b: Daemon;
let rootA: string;
let runner: FakeRunner;
let envId: string;
let onB: (token: string) => Transport;
let alice: { id: string; token: string };

async function replica(db: string, root: string): Promise<Daemon> {
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
  });
  cleanups.push(() => d.close());
  return d;
}

before(async () => {
  cluster = await startPgCluster();
  const db = cluster.url(await cluster.createDatabase({ migrated: false }));
  const [ta, tb] = [tempDir("warren-relay-a-"), tempDir("warren-relay-b-")];
  cleanups.push(ta.cleanup, tb.cleanup);
  rootA = ta.dir;
  a = await replica(db, ta.dir);
  // Replicas share the secrets key (the relay CA's key is sealed under it).
  mkdirSync(path.join(tb.dir, "keys"), { recursive: true, mode: 0o700 });
  copyFileSync(path.join(ta.dir, "keys", "secrets.key"), path.join(tb.dir, "keys", "secrets.key"));
  b = await replica(db, tb.dir);
  assert.ok(a.relay && b.relay, "both replicas run a relay listener");

  runner = new FakeRunner();
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
  const tok = await a.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "alice" } });
  alice = tok.json();
  onB = (token) =>
    tlsTransport({ url: `https://127.0.0.1:${b.tls!.port}`, fingerprint: b.tls!.fingerprint, token });
});

after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

function exec(t: Transport, cmd: string[]): Promise<{ stdout: string; control: ControlMessage[] }> {
  const qs = new URLSearchParams({ cmd: JSON.stringify(cmd) });
  const { url, options } = t.webSocket(`/api/v1/environments/dev/exec?${qs}`);
  const ws = new WebSocket(url, options);
  const out = { stdout: "", control: [] as ControlMessage[] };
  return new Promise((resolve, reject) => {
    ws.on("message", (data: Buffer) => {
      const f = parseFrame(data);
      if (f.channel === Channel.stdout) out.stdout += f.data.toString();
      if (f.channel === Channel.control) out.control.push(JSON.parse(f.data.toString()));
    });
    ws.on("close", () => resolve(out));
    ws.on("error", reject);
  });
}

test("a client of replica B reaches the runner replica A holds: exec, logs -f, port-forward, stats, pull", async () => {
  const t = onB(alice.token);
  // Without the relay, every one of these answers 503 on B: B holds no runner at all.
  assert.equal(b.hub?.connected().length, 0);

  const hello = await exec(t, ["echo", "hello", "relay"]);
  assert.equal(hello.stdout, "hello relay\n");
  assert.deepEqual(hello.control.at(-1), { type: "exit", code: 0 });
  const failed = await exec(t, ["exit", "3"]);
  assert.deepEqual(
    failed.control.at(-1),
    { type: "exit", code: 3 },
    "the command's own status passes through",
  );

  // logs -f streams what the runner writes after the follow began.
  const lines = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const req = t.request({ method: "GET", path: "/api/v1/environments/dev/logs?follow=1" }, (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        seen += chunk;
        if (seen.includes("after the follow began")) {
          req.destroy();
          resolve(seen);
        }
      });
      setTimeout(() => void runner.appendEvent(envId, "after the follow began"), 100);
    });
    req.on("error", (err) => (seen.includes("after the follow began") ? undefined : reject(err)));
    req.end();
  });
  assert.match(lines, /\[warren\] after the follow began/);

  // A port-forward round trip to a server "inside" the environment.
  runner.listeners.set(`${envId}:8080`, (sock) => sock.pipe(sock));
  const { url, options } = t.webSocket("/api/v1/environments/dev/port-forward?port=8080");
  const ws = new WebSocket(url, options);
  const echoed = await new Promise<string>((resolve, reject) => {
    ws.on("open", () => ws.send(Buffer.from("ping over two replicas")));
    ws.on("message", (data: Buffer, binary: boolean) => binary && resolve(data.toString()));
    ws.on("error", reject);
  });
  ws.close();
  assert.equal(echoed, "ping over two replicas");

  // A client cannot make B serve it locally by claiming the request was relayed already.
  const stats = await callJson(t, "GET", "/api/v1/environments/dev/stats", undefined, {
    [RELAY_HEADER]: "x",
  });
  assert.equal(stats.status, 200, JSON.stringify(stats.body));

  // An image pull goes to a replica holding one of the organisation's runners: the fake runner's
  // own refusal (in-band), not B's "no runner here".
  const pull = await callJson(t, "POST", "/api/v1/images/pull", { ref: "docker.io/library/alpine:3" });
  assert.equal(pull.status, 200);
  assert.match(JSON.stringify(pull.body), /not available on the fake runner/);
});

test("relays re-check the caller on the holder; the relay listener admits only the cluster's replicas", async () => {
  const relayUrl = new URL(a.relay!.url);
  const caPem = (await a.store.db.selectFrom("relay_ca").select("cert_pem").executeTakeFirstOrThrow())
    .cert_pem;
  const leaf = await issueLeaf(
    await loadOrCreateCa(a.store.db, secretsBox(rootA), () => new Date().toISOString()),
    "test-peer",
    ["IP:127.0.0.1"],
  );
  const evil = await issueLeaf(await generateCa("another CA"), "evil", ["IP:127.0.0.1"]);
  const direct = (
    p: string,
    o: { cert?: string; key?: string; token?: string; relayed?: boolean },
  ): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: Number(relayUrl.port),
          path: p,
          ca: caPem,
          ...(o.cert ? { cert: o.cert, key: o.key } : {}),
          checkServerIdentity: () => undefined,
          agent: false,
          headers: {
            ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
            ...(o.relayed === false ? {} : { [RELAY_HEADER]: "test-peer" }),
          },
        },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const stats = "/api/v1/environments/dev/stats";

  const asPeer = { cert: leaf.certPem, key: leaf.keyPem };
  // The cluster's certificate works (so the refusals below are not about TLS) ...
  assert.equal((await direct(stats, { ...asPeer, token: alice.token })).status, 200);
  // ... and nothing else gets past the handshake.
  await assert.rejects(direct(stats, { token: alice.token }), "no client certificate");
  await assert.rejects(
    direct(stats, { cert: evil.certPem, key: evil.keyPem, token: alice.token }),
    "another CA",
  );

  // The listener serves only relayed live calls.
  assert.equal((await direct(stats, { ...asPeer, token: alice.token, relayed: false })).status, 403);
  assert.equal((await direct("/api/v1/environments", { ...asPeer, token: alice.token })).status, 403);
  assert.equal((await direct(stats, asPeer)).status, 401, "a peer's word is no credential");

  // Another organisation's member, relayed by a peer that vouches for anything: A says not found.
  const now = new Date().toISOString();
  const db = a.store.db;
  await db.insertInto("orgs").values({ id: "org_other", name: "other", created_at: now }).execute();
  await db.insertInto("users").values({ id: "usr_eve", name: "eve", created_at: now }).execute();
  await db
    .insertInto("memberships")
    .values({ org_id: "org_other", user_id: "usr_eve", role: "owner", created_at: now })
    .execute();
  const { createIdentityService } = await import("../src/services/identity.ts");
  const { systemClock } = await import("../src/clock.ts");
  const identity = createIdentityService({ db, clock: systemClock });
  const eve = await identity.createToken(
    { kind: "user", userId: "usr_eve", orgId: "org_other", role: "owner", via: "token" },
    { name: "eve" },
  );
  const foreign = await direct(stats, { ...asPeer, token: eve.token });
  assert.equal(foreign.status, 404, foreign.body);
  assert.equal((await callJson(onB(eve.token), "GET", stats)).status, 404, "through B as well");

  // A revoked token: refused by B before any relay, and by A when a peer relays it anyway.
  const revoked = await a.app.inject({ method: "DELETE", url: `/api/v1/tokens/${alice.id}` });
  assert.ok(revoked.statusCode < 300, revoked.body);
  assert.equal((await direct(stats, { ...asPeer, token: alice.token })).status, 401);
  assert.equal((await callJson(onB(alice.token), "GET", stats)).status, 401);
});
