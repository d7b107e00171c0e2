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

test("the connect endpoint refuses a wrong protocol version, a first frame that is not hello, and garbage", async () => {
  const d = await server();
  const token = await runnerToken(d);
  const { WebSocket } = await import("ws");
  const { tlsTransport, RUNNER_CONNECT_PATH } = await import("@warren/protocol");
  const open = async (first: string) => {
    const { url, options } = tlsTransport({ url: d.url, fingerprint: d.fingerprint, token }).webSocket(
      RUNNER_CONNECT_PATH,
    );
    const ws = new WebSocket(url, options);
    await new Promise((res, rej) => {
      ws.once("open", res);
      ws.once("error", rej);
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.send(first);
    return closed;
  };
  const info = await new FakeRunner().info();
  const v2 = await open(JSON.stringify({ t: "hello", version: 2, info }));
  assert.equal(v2.code, 1002);
  assert.match(v2.reason, /version 2 is not 1; upgrade the runner/);
  const notHello = await open(JSON.stringify({ t: "ok", id: 1 }));
  assert.match(notHello.reason, /expected hello, got ok/);
  const garbage = await open("{not json");
  assert.equal(garbage.code, 1002);
  assert.match(garbage.reason, /bad hello/);
  assert.equal(d.hub?.connected().length, 0, "none of them became a runner");
});
