// The runner protocol over TLS (/api/runner/v1/connect): `warren server` mode with a fake runner
// that dials in with a runner token, exactly as a remote host's runner would.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { connectRunner, type RunnerConnection } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { startTlsServer } from "@warren/testing/tls-server";
import { systemClock } from "../src/clock.ts";
import type { Daemon } from "../src/daemon.ts";
import { type Caller, createIdentityService } from "../src/services/identity.ts";
import { execWs } from "./exec-ws-client.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = () => startTlsServer(cleanups);

async function runnerToken(d: Daemon, headers: Record<string, string> = {}): Promise<string> {
  const r = await d.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: `r${Math.random()}` },
    headers,
  });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().token as string;
}

async function connect(
  d: Awaited<ReturnType<typeof server>>,
  runner: FakeRunner,
  token: string,
): Promise<RunnerConnection> {
  const c = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token }, runner);
  cleanups.push(() => c.close());
  await c.ready;
  return c;
}

test("a runner dialling in over TLS receives placements, exec and logs", async () => {
  const d = await server();
  // No runner yet: the API says so instead of hanging.
  const none = await d.app.inject({ method: "GET", url: "/api/v1/runner" });
  assert.equal(none.statusCode, 503);
  assert.equal(none.json().code, "RUNNER_UNAVAILABLE");

  const runner = new FakeRunner();
  runner.leftovers.add("zzzzzzzzzzzz"); // a half-made environment no row knows
  await connect(d, runner, await runnerToken(d));
  assert.deepEqual(runner.sweeps.at(-1), new Set(), "swept with its org's environments kept");
  assert.equal(d.hub?.connected().length, 1);

  const info = await d.app.inject({ method: "GET", url: "/api/v1/runner" });
  assert.equal(info.statusCode, 200);
  assert.equal(info.json().hostname, "fake-host");

  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().state, "running");
  assert.equal([...runner.envs.values()][0]?.state, "running", "the remote runner ran it");

  const echo = await execWs(d.socketPath, "dev", ["echo", "over", "the", "wire"]).done;
  assert.equal(echo.stdout, "over the wire\n");
  assert.deepEqual(echo.control, [{ type: "exit", code: 0 }]);
  const code = await execWs(d.socketPath, "dev", ["exit", "7"]).done;
  assert.deepEqual(code.control, [{ type: "exit", code: 7 }]);

  const id = created.json().id as string;
  runner.logLines.set(id, "one\ntwo\nthree");
  const logs = await d.app.inject({ method: "GET", url: "/api/v1/environments/dev/logs?tail=2" });
  assert.equal(logs.statusCode, 200);
  assert.equal(logs.body, "two\nthree\n");

  const stopped = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments/dev/stop",
    payload: { graceSeconds: 0 },
  });
  assert.equal(stopped.json().state, "stopped");
  const gone = await d.app.inject({ method: "DELETE", url: "/api/v1/environments/dev" });
  assert.equal(gone.statusCode, 204);
  assert.equal(runner.envs.size, 0);
});

test("a runner that goes away fails calls with RUNNER_UNAVAILABLE; one that comes back converges", async () => {
  const d = await server();
  const token = await runnerToken(d);
  const first = new FakeRunner();
  const c = await connect(d, first, token);
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201);
  c.close();
  await c.closed;
  while ((d.hub?.connected().length ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));

  const refused = await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "b" } });
  assert.equal(refused.statusCode, 503);
  assert.match(refused.json().message, /no runner of organisation .* is connected/);

  // The same host reconnects after a reboot with nothing running: the resync starts `dev` again.
  const second = new FakeRunner();
  await connect(d, second, token);
  const deadline = Date.now() + 5000;
  while (second.envs.get(created.json().id)?.state !== "running") {
    assert.ok(Date.now() < deadline, "the reconnected runner got the environment back");
    await new Promise((r) => setTimeout(r, 10));
  }
});

test("user tokens cannot connect as runners, and a runner serves only its own organisation", async () => {
  const d = await server();
  const user = await d.app.inject({ method: "POST", url: "/api/v1/tokens", payload: { name: "me" } });
  const userToken = user.json().token as string;
  await assert.rejects(
    connectRunner({ url: d.url, fingerprint: d.fingerprint, token: userToken }, new FakeRunner()),
    /runner token/,
  );
  // Forged prefix: the server itself refuses a user token on the runner endpoint.
  const forged = await connectRunner(
    { url: d.url, fingerprint: d.fingerprint, token: `wrn_r_${userToken.slice(4)}` },
    new FakeRunner(),
  );
  await assert.rejects(forged.ready, /refused the runner \(401\)/);

  // Org two's owner connects a runner: the bootstrap org's environments never reach it, even
  // while it is the only runner connected.
  const now = new Date().toISOString();
  await d.store.db.insertInto("orgs").values({ id: "org_two", name: "two", created_at: now }).execute();
  await d.store.db.insertInto("users").values({ id: "usr_carol", name: "carol", created_at: now }).execute();
  await d.store.db
    .insertInto("memberships")
    .values({ org_id: "org_two", user_id: "usr_carol", role: "owner", created_at: now })
    .execute();
  const carol: Caller = { kind: "user", userId: "usr_carol", orgId: "org_two", role: "owner", via: "token" };
  const identity = createIdentityService({ db: d.store.db, clock: systemClock });
  const twoRunner = new FakeRunner();
  await connect(d, twoRunner, (await identity.createRunnerToken(carol, { name: "two-host" })).token);
  const refused = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "a1" },
  });
  assert.equal(refused.statusCode, 503, "no runner of the bootstrap org: org two's runner is not used");
  const ownRunner = new FakeRunner();
  await connect(d, ownRunner, await runnerToken(d));
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "a1" },
  });
  assert.equal(created.statusCode, 201);
  assert.equal(ownRunner.callsOf("ensureRunning").length, 1);
  assert.equal(twoRunner.callsOf("ensureRunning").length, 0);
  assert.deepEqual(
    twoRunner.sweeps.at(-1),
    new Set(),
    "org two's sweep kept only org two's (no) environments",
  );
});

test("the connect endpoint refuses other protocol versions by name, a first frame that is not hello, text frames and garbage", async () => {
  const d = await server();
  const token = await runnerToken(d);
  const { openRawRunner, UpgradeRefused } = await import("@warren/testing/raw-runner");
  const { RUNNER_WIRE_VERSION } = await import("@warren/protocol");
  const o = { url: d.url, fingerprint: d.fingerprint, token };
  // A runner from before versions were announced (v1), and one newer than this control plane.
  for (const [version, says, upgrade] of [
    [null, /runner speaks v1 .*control plane speaks v2; upgrade the runner/, "runner"],
    [
      RUNNER_WIRE_VERSION + 1,
      /runner speaks v3, this control plane speaks v2; upgrade the control plane/,
      "cp",
    ],
  ] as const) {
    const refused = await openRawRunner({ ...o, version }).then(
      () => assert.fail("a runner of another version was let in"),
      (e: unknown) => e,
    );
    assert.ok(refused instanceof UpgradeRefused, String(refused));
    assert.equal(refused.status, 426, `${upgrade}: refused before the upgrade`);
    assert.match(refused.body, says);
  }
  const info = await new FakeRunner().info();
  const notHello = await openRawRunner(o);
  await notHello.send({ text: JSON.stringify({ t: "ok", id: 1 }) });
  assert.match((await notHello.closed).reason, /expected hello, got ok/);
  const garbage = await openRawRunner(o);
  await garbage.send({ text: "{not json" });
  const g = await garbage.closed;
  assert.equal(g.code, 1002);
  assert.match(g.reason, /bad hello/);
  const hugeLength = await openRawRunner(o);
  await hugeLength.send({ binary: new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2]) });
  const h = await hugeLength.closed;
  assert.equal(h.code, 1009);
  assert.match(h.reason, /exceeds/);
  // Text frames on the WebSocket itself: the link carries binary HTTP/2 only.
  const text = await openRawRunner(o);
  text.ws.send(JSON.stringify({ t: "hello", version: RUNNER_WIRE_VERSION, info }));
  const tc = await text.closed;
  assert.ok(tc.code === 1002 || tc.code === 1003, `${tc.code} ${tc.reason}`);
  assert.equal(d.hub?.connected().length, 0, "none of them became a runner");
});

test("a runner refuses a control plane that announces another protocol version, naming both", async () => {
  const { WebSocketServer } = await import("ws");
  const { createServer } = await import("node:https");
  const { connectRunner, RUNNER_PROTOCOL_HEADER, RUNNER_WIRE_VERSION } = await import("@warren/protocol");
  const { readFileSync } = await import("node:fs");
  const { tlsPaths } = await import("../src/http/tls-cert.ts");
  const d = await server();
  const paths = tlsPaths(d.dir);
  // An older control plane announces no version; a newer one announces its own.
  for (const announced of [undefined, String(RUNNER_WIRE_VERSION + 1)]) {
    const https = createServer({ cert: readFileSync(paths.cert), key: readFileSync(paths.key) });
    const wss = new WebSocketServer({ server: https });
    wss.on("headers", (headers) => {
      if (announced) headers.push(`${RUNNER_PROTOCOL_HEADER}: ${announced}`);
    });
    let served = 0;
    wss.on("connection", () => served++);
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
    const port = (https.address() as { port: number }).port;
    const link = await connectRunner(
      { url: `https://127.0.0.1:${port}`, fingerprint: d.fingerprint, token: "wrn_r_x" },
      new FakeRunner(),
    );
    await assert.rejects(link.ready, (e: Error & { code?: string }) => {
      assert.equal(e.code, "VERSION_MISMATCH");
      assert.match(
        e.message,
        announced
          ? /this runner speaks v2, the control plane speaks v3; upgrade the runner/
          : /this runner speaks v2, the control plane announces no version .*upgrade the control plane/,
      );
      return true;
    });
    assert.equal((await link.ended).status, 426);
    assert.equal(served, 1, "the WebSocket opened; no HTTP/2 was spoken on it");
    await new Promise<void>((r) => wss.close(() => https.close(() => r())));
  }
});
