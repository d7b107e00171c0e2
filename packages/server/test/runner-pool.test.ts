// An organisation's runners as a pool (runners/hub.ts): several runners of one organisation
// connected at once over TLS, each with its own name; creates spread across them, each
// environment's calls reach the runner its row records, a second live runner under a taken name is
// refused, the same host back under a new token keeps its environments, and a runner that stays
// away past the grace period leaves its environments with a RunnerUnreachable condition (never
// re-created elsewhere) that goes when it returns.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { connectRunner, type RunnerConnection, type RunnerInfo } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { mintRunnerToken, startTlsServer, type TlsServer } from "@warren/testing/tls-server";
import { execWs } from "./exec-ws-client.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake host with a fleet name and, optionally, the host id it keeps in its state root. */
class PoolRunner extends FakeRunner {
  readonly runnerName: string;
  readonly hostId: string | undefined;
  constructor(runnerName: string, hostId?: string) {
    super();
    this.runnerName = runnerName;
    this.hostId = hostId;
  }
  override async info(): Promise<RunnerInfo> {
    return {
      ...(await super.info()),
      name: this.runnerName,
      ...(this.hostId ? { hostId: this.hostId } : {}),
    };
  }
}

async function connect(d: TlsServer, runner: FakeRunner, token: string): Promise<RunnerConnection> {
  const c = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token }, runner);
  cleanups.push(() => c.close());
  await c.ready;
  return c;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const create = async (d: TlsServer, name: string) => {
  const r = await d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name } });
  assert.equal(r.statusCode, 201, r.body);
  return r.json() as {
    id: string;
    state: string;
    conditions: { type: string; at: string; message: string }[];
  };
};
const envRow = (d: TlsServer, id: string) =>
  d.store.db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const getEnv = async (d: TlsServer, name: string) =>
  (await d.app.inject({ method: "GET", url: `/api/v1/environments/${name}` })).json() as {
    state: string;
    conditions: { type: string; at: string; message: string }[];
  };

test("two runners of one organisation: creates spread, each environment's calls reach its own runner, and a taken name is refused", async () => {
  const d = await startTlsServer(cleanups);
  const one = new PoolRunner("r1");
  const two = new PoolRunner("r2");
  const t1 = await mintRunnerToken(d);
  const t2 = await mintRunnerToken(d);
  await connect(d, one, t1.token);
  await connect(d, two, t2.token);
  assert.deepEqual(
    d.hub
      .connected()
      .map((c) => c.name)
      .sort(),
    ["r1", "r2"],
  );

  const made = [];
  for (const name of ["a", "b", "c", "d"]) made.push(await create(d, name));
  const on = new Map([
    [t1.id, one],
    [t2.id, two],
  ]);
  for (const env of made) {
    const row = await envRow(d, env.id);
    const runner = on.get(row.runner_id);
    assert.ok(runner, `recorded on one of the two runners: ${row.runner_id}`);
    const other = runner === one ? two : one;
    assert.equal(runner.envs.get(env.id)?.state, "running", "its own runner runs it");
    assert.equal(other.envs.has(env.id), false, "the other runner never heard of it");
    assert.match(String(row.placement), /^placed on r[12]/);
  }
  assert.ok(one.envs.size > 0 && two.envs.size > 0, `spread: r1 ${one.envs.size}, r2 ${two.envs.size}`);

  // Live calls route by the row's runner: stats, exec and stop of an environment on each.
  for (const [runner, other] of [
    [one, two],
    [two, one],
  ] as const) {
    const id = [...runner.envs.keys()][0]!;
    const name: string = (await envRow(d, id)).name;
    const statsBefore = other.callsOf("stats").length;
    const stats = await d.app.inject({ method: "GET", url: `/api/v1/environments/${name}/stats` });
    assert.equal(stats.statusCode, 200, stats.body);
    assert.ok(runner.callsOf("stats").some(([x]) => x === id));
    assert.equal(other.callsOf("stats").length, statsBefore);
    const echo = await execWs(d.socketPath, name, ["echo", name]).done;
    assert.equal(echo.stdout, `${name}\n`);
    const stopped = await d.app.inject({
      method: "POST",
      url: `/api/v1/environments/${name}/stop`,
      payload: { graceSeconds: 0 },
    });
    assert.equal(stopped.json().state, "stopped", stopped.body);
    assert.equal(runner.envs.get(id)?.state, "stopped");
  }

  // A third host calling itself r1 while r1 is connected: refused, saying which runner has the name.
  const impostor = new PoolRunner("r1");
  const t3 = await mintRunnerToken(d);
  const c = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token: t3.token }, impostor);
  cleanups.push(() => c.close());
  await assert.rejects(c.ready, new RegExp(`name r1 is used by connected runner ${t1.id}`));
  assert.equal(impostor.callsOf("sweep").length, 0, "refused before it was swept or sent anything");
  assert.equal(d.hub.connected().length, 2);
  const rows = await d.store.db.selectFrom("runners").select(["id", "name"]).execute();
  assert.ok(!rows.some((r) => r.id === t3.id), "the refused runner left no row");
});

test("the same host back under a new token keeps its environments", async () => {
  const d = await startTlsServer(cleanups);
  const host = new PoolRunner("h1", "hostidaaaa1111");
  const first = await mintRunnerToken(d);
  const link = await connect(d, host, first.token);
  const env = await create(d, "keep");
  assert.equal((await envRow(d, env.id)).runner_id, first.id);
  link.close();
  await until("the first link is gone", () => d.hub.connected().length === 0);

  const second = await mintRunnerToken(d);
  await connect(d, host, second.token);
  const row = await envRow(d, env.id);
  assert.equal(row.runner_id, second.id, "its environment moved to the new runner id");
  assert.ok(host.sweeps.at(-1)?.has(env.id), "kept by the sweep, not removed from the host");
  assert.equal(host.envs.get(env.id)?.state, "running");
  const runners = await d.store.db.selectFrom("runners").select(["id", "name", "host_id"]).execute();
  assert.deepEqual(
    runners.map((r) => [r.id, r.name, r.host_id]),
    [[second.id, "h1", "hostidaaaa1111"]],
    "the old id's row is gone; the name and host id carry on",
  );
  const cap = await d.store.db.selectFrom("runner_capacity").select(["runner_id", "alloc_envs"]).execute();
  assert.deepEqual(
    cap.map((c) => [c.runner_id, Number(c.alloc_envs)]),
    [[second.id, 1]],
    "its allocation moved with it",
  );
  const echo = await execWs(d.socketPath, "keep", ["echo", "still", "here"]).done;
  assert.equal(echo.stdout, "still here\n");
});

test("a runner away past the grace period: RunnerUnreachable on its environments, never re-created elsewhere; cleared when it returns", async () => {
  const d = await startTlsServer(cleanups, { fleet: { unreachableGraceMs: 300 } });
  const away = new PoolRunner("away");
  const stays = new PoolRunner("stays");
  const awayToken = await mintRunnerToken(d);
  await connect(d, stays, (await mintRunnerToken(d)).token);
  // Only `away` has room at first, so the environment lands there.
  stays.slots = 0;
  await d.hub.beat();
  const link = await connect(d, away, awayToken.token);
  const env = await create(d, "far");
  assert.equal((await envRow(d, env.id)).runner_id, awayToken.id);
  stays.slots = 64;
  await d.hub.beat();

  const lostAt = Date.now();
  link.close();
  await until("the link is gone", () => !d.hub.connected().some((c) => c.runnerId === awayToken.id));
  await until("the condition", async () =>
    (await getEnv(d, "far")).conditions.some((c) => c.type === "RunnerUnreachable"),
  );
  assert.ok(Date.now() - lostAt >= 300, "not before the grace period");
  const seen = await getEnv(d, "far");
  assert.equal(seen.state, "running", "its last observed state");
  const cond = seen.conditions.find((c) => c.type === "RunnerUnreachable")!;
  const mark = await d.store.db
    .selectFrom("runners")
    .select("unreachable_since")
    .where("id", "=", awayToken.id)
    .executeTakeFirstOrThrow();
  assert.ok(mark.unreachable_since, "the runner is marked");
  assert.equal(cond.at, mark.unreachable_since, "since when");
  assert.match(cond.message, /runner away has been unreachable since/);
  // Reconciling it changes nothing and never sends it to the other runner.
  await d.controller.reconcile(env.id).catch(() => {});
  assert.equal(stays.callsOf("ensureRunning").length, 0, "not re-created on the runner that stayed");
  assert.equal((await envRow(d, env.id)).runner_id, awayToken.id);

  await connect(d, away, awayToken.token);
  await until(
    "the condition cleared",
    async () => !(await getEnv(d, "far")).conditions.some((c) => c.type === "RunnerUnreachable"),
  );
  const back = await d.store.db
    .selectFrom("runners")
    .select("unreachable_since")
    .where("id", "=", awayToken.id)
    .executeTakeFirstOrThrow();
  assert.equal(back.unreachable_since, null);
  assert.equal((await getEnv(d, "far")).state, "running");
  const echo = await execWs(d.socketPath, "far", ["echo", "back"]).done;
  assert.equal(echo.stdout, "back\n");
});
