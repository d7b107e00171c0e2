// Port-forward over the API (GET /api/v1/environments/:name/port-forward) and waking for it and
// for exec: the real daemon wiring (services, waker, live sessions, TLS listener) with the fake
// runner behind it. A server "inside" an environment is a fake.listeners entry.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import {
  type ControlMessage,
  openPortForward,
  PORT_FORWARD_EOF,
  type Transport,
  tlsTransport,
  unixTransport,
  WarrenError,
} from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import type { WebSocket } from "ws";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { type Caller, createIdentityService } from "../src/services/identity.ts";
import { execWs } from "./exec-ws-client.ts";

const fake = new FakeRunner();
let d: Daemon;
let cleanup: () => void;
let envId: string;
let ownerToken: { id: string; token: string };
let strangerToken: string;
let tls: (token: string) => Transport;

before(async () => {
  const tmp = tempDir("warren-pf-");
  cleanup = tmp.cleanup;
  d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    runner: fake,
    defaultRuntime: "runc",
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
    backoff: { baseMs: 20, maxMs: 200 },
    listen: "127.0.0.1:0",
  });
  const url = `https://127.0.0.1:${d.tls!.port}`;
  tls = (token) => tlsTransport({ url, fingerprint: d.tls!.fingerprint, token });
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments?wait=1",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  envId = created.json().id;
  const tok = await d.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "owner" } });
  ownerToken = tok.json();
  // Carol owns another organisation: dev is not hers to see.
  const now = new Date().toISOString();
  const db = d.store.db;
  await db.insertInto("orgs").values({ id: "org_two", name: "two", created_at: now }).execute();
  await db.insertInto("users").values({ id: "usr_carol", name: "carol", created_at: now }).execute();
  await db
    .insertInto("memberships")
    .values({ org_id: "org_two", user_id: "usr_carol", role: "owner", created_at: now })
    .execute();
  const carol: Caller = { kind: "user", userId: "usr_carol", orgId: "org_two", role: "owner", via: "token" };
  strangerToken = (await createIdentityService({ db, clock: systemClock }).createToken(carol, { name: "c" }))
    .token;
});
after(async () => {
  await d?.close();
  cleanup?.();
});

/** A server inside dev on `port` that echoes what it reads, and ends when its reader ends. */
function echoServer(port: number): { conns: Duplex[] } {
  const conns: Duplex[] = [];
  fake.listeners.set(`${envId}:${port}`, (s) => {
    conns.push(s);
    s.pipe(s);
  });
  return { conns };
}

/** Sends `data` as binary frames, then EOF; resolves with what came back and the close code. */
function roundTrip(ws: WebSocket, data: Buffer): Promise<{ back: Buffer; code: number }> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    ws.on("message", (m: Buffer, binary: boolean) => {
      if (binary) got.push(m);
    });
    ws.on("close", (code) => resolve({ back: Buffer.concat(got), code }));
    ws.on("error", reject);
    for (let i = 0; i < data.length; i += 64 * 1024)
      ws.send(data.subarray(i, i + 64 * 1024), { binary: true });
    ws.send(PORT_FORWARD_EOF, { binary: false });
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function refusal(p: Promise<unknown>): Promise<WarrenError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WarrenError, String(err));
    return err;
  }
  assert.fail("the forward opened");
}

test("bytes flow both ways, byte-identical, and a half-close ends it cleanly (1000)", async () => {
  echoServer(7000);
  const data = randomBytes(8 * 1024 * 1024);
  const ws = await openPortForward(tls(ownerToken.token), "dev", 7000);
  const { back, code } = await roundTrip(ws, data);
  assert.equal(back.length, data.length);
  assert.equal(sha(back), sha(data));
  assert.equal(code, 1000);
  const dials = fake.callsOf("dial").at(-1);
  assert.deepEqual(dials, [envId, 7000, "127.0.0.1"], "dialled from inside dev, on its own loopback");
});

test("nothing listening is DIAL_FAILED before any upgrade, with the reason", async () => {
  const err = await refusal(openPortForward(tls(ownerToken.token), "dev", 7999));
  assert.equal(err.code, "DIAL_FAILED");
  assert.match(err.message, /nothing listens on 127\.0\.0\.1:7999 inside dev/);
});

test("another organisation's environment is refused exactly like an unknown one", async () => {
  echoServer(7001);
  const theirs = await refusal(openPortForward(tls(strangerToken), "dev", 7001));
  const unknown = await refusal(openPortForward(tls(strangerToken), "nope", 7001));
  assert.equal(theirs.code, "ENV_NOT_FOUND");
  assert.equal(unknown.code, "ENV_NOT_FOUND");
  assert.equal(theirs.message.replace("dev", "X"), unknown.message.replace("nope", "X"));
  // By id too: ids reveal nothing across organisations.
  assert.equal((await refusal(openPortForward(tls(strangerToken), envId, 7001))).code, "ENV_NOT_FOUND");
  assert.ok(!fake.callsOf("dial").some((c) => c[1] === 7001), "nothing was dialled for the stranger");
});

test("a malformed port or host is refused with INVALID_ARGUMENT naming the field", async () => {
  const t = tls(ownerToken.token);
  for (const [port, host, field] of [
    [0, undefined, "port"],
    [70000, undefined, "port"],
    [-1, undefined, "port"],
    [22, "example.com", "host"],
  ] as const) {
    const err = await refusal(openPortForward(t, "dev", port, host));
    assert.equal(err.code, "INVALID_ARGUMENT", `${port} ${host}`);
    assert.match(err.message, new RegExp(field));
  }
  const raw = await d.app.inject({ method: "GET", url: "/api/v1/environments/dev/port-forward?port=abc" });
  assert.equal(raw.statusCode, 400);
  assert.match(raw.json().message, /WebSocket/, "a plain GET is told to upgrade");
});

test("revoking the token ends a live forward with 4401 and resets the connection inside", async () => {
  const srv = echoServer(7002);
  const t = await d.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "short" } });
  const short = t.json() as { id: string; token: string };
  const ws = await openPortForward(tls(short.token), "dev", 7002);
  const echoed = new Promise<void>((resolve) => ws.once("message", () => resolve()));
  ws.send(Buffer.from("ping"), { binary: true });
  await echoed;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const inside = srv.conns.at(-1)!;
  // The fake's in-memory pair shows the far end going away as an end of its input.
  const insideClosed = new Promise<void>((resolve) => {
    inside.once("end", resolve);
    inside.once("close", resolve);
  });
  const revoked = await d.app.inject({ method: "DELETE", url: `/api/v1/tokens/${short.id}` });
  assert.ok(revoked.statusCode < 300, revoked.body);
  const end = await Promise.race([
    closed,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error("the forward outlived its token by 1 s")), 1000),
    ),
  ]);
  assert.equal(end.code, 4401);
  assert.match(end.reason, /revoked/);
  await insideClosed;
});

test("a forward to a stopped environment starts it and waits, then flows", async () => {
  echoServer(7003);
  const stopped = await d.app.inject({ method: "POST", url: "/api/v1/environments/dev/stop", payload: {} });
  assert.equal(stopped.json().state, "stopped");
  const ws = await openPortForward(tls(ownerToken.token), "dev", 7003);
  const { back } = await roundTrip(ws, Buffer.from("hello after waking"));
  assert.equal(back.toString(), "hello after waking");
  const env = await d.app.inject({ method: "GET", url: "/api/v1/environments/dev" });
  assert.equal(env.json().state, "running");
});

test("exec to a stopped environment starts it, says so, then runs the command", async () => {
  await d.app.inject({ method: "POST", url: "/api/v1/environments/dev/stop", payload: {} });
  const { done } = execWs(d.socketPath, "dev", ["exit", "3"]);
  const out = await done;
  const types = out.control.map((c: ControlMessage) => c.type);
  assert.deepEqual(types, ["notice", "exit"], JSON.stringify(out.control));
  assert.match((out.control[0] as { message: string }).message, /starting dev/);
  assert.deepEqual(out.control[1], { type: "exit", code: 3 });
  // Already running: no notice.
  const again = await execWs(d.socketPath, "dev", ["exit", "0"]).done;
  assert.deepEqual(again.control, [{ type: "exit", code: 0 }]);
});

test("port-forward as root on the local socket needs no token", async () => {
  echoServer(7004);
  const ws = await openPortForward(unixTransport(d.socketPath), "dev", 7004);
  const { back, code } = await roundTrip(ws, Buffer.from("local"));
  assert.equal(back.toString(), "local");
  assert.equal(code, 1000);
});
