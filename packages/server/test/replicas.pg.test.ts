// Two control-plane replicas on one PostgreSQL database, one runner connected to replica A.
// Lifecycle calls on replica B work (admission from what the runner last reported, the change
// reaches A over LISTEN/NOTIFY, A reconciles, B's wait settles); B never reconciles A's
// environments itself, and the watch log records each change once.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { connectRunner } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { type Daemon, runDaemon } from "../src/daemon.ts";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

async function replica(db: string): Promise<Daemon> {
  const tmp = tempDir("warren-replica-");
  cleanups.push(tmp.cleanup);
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    db,
    defaultRuntime: "runc",
    resyncMs: 600_000, // only the change bus may bring B's creates to A in time
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 8000,
    backoff: { baseMs: 20, maxMs: 200 },
    listen: "127.0.0.1:0",
  });
  cleanups.push(() => d.close());
  return d;
}

test("replica B admits and changes environments whose runner replica A holds", async () => {
  const db = cluster!.url(await cluster!.createDatabase({ migrated: false }));
  const a = await replica(db);
  const b = await replica(db);
  const runner = new FakeRunner();
  const token = await a.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "h" },
  });
  const conn = await connectRunner(
    { url: `https://127.0.0.1:${a.tls!.port}`, fingerprint: a.tls!.fingerprint, token: token.json().token },
    runner,
  );
  cleanups.push(() => conn.close());
  await conn.ready;

  const t0 = Date.now();
  const created = await b.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().state, "running", "B's wait settled on A's work");
  assert.ok(Date.now() - t0 < 5000, "reached A over the change bus, not a resync");
  const id = created.json().id as string;
  assert.equal(runner.envs.get(id)?.state, "running");
  assert.deepEqual(
    created.json().conditions.filter((c: { type: string }) => c.type === "ReconcileError"),
    [],
    "B never tried to reconcile it itself",
  );

  // Calls that need the runner live say where it is.
  const info = await b.app.inject({ method: "GET", url: "/api/v1/runner" });
  assert.equal(info.statusCode, 200, "B answers from what A recorded");
  assert.equal(info.json().hostname, "fake-host");
  const stats = await b.app.inject({ method: "GET", url: "/api/v1/environments/dev/stats" });
  assert.equal(stats.statusCode, 503);
  assert.match(stats.json().message, /another replica/);

  const stopped = await b.app.inject({
    method: "POST",
    url: "/api/v1/environments/dev/stop",
    payload: { graceSeconds: 0 },
  });
  assert.equal(stopped.json().state, "stopped", stopped.body);
  assert.equal(runner.envs.get(id)?.state, "stopped");
  const gone = await b.app.inject({ method: "DELETE", url: "/api/v1/environments/dev" });
  assert.equal(gone.statusCode, 204, gone.body);
  assert.equal(runner.envs.size, 0);

  // Each change once in the shared watch log, though both replicas saw every one.
  // The watch log is written just after the change (services/watch.ts): wait for the DELETED.
  const readLog = () =>
    a.store.db
      .selectFrom("env_changes")
      .select(["type", "object"])
      .where("env_id", "=", id)
      .orderBy("rv")
      .execute();
  let log = await readLog();
  for (const until = Date.now() + 5000; log.at(-1)?.type !== "DELETED" && Date.now() < until; ) {
    await new Promise((res) => setTimeout(res, 20));
    log = await readLog();
  }
  await new Promise((res) => setTimeout(res, 200)); // and give a duplicate time to appear
  log = await readLog();
  for (let i = 1; i < log.length; i++) {
    assert.ok(
      log[i]!.type !== log[i - 1]!.type || log[i]!.object !== log[i - 1]!.object,
      `change ${i} repeats change ${i - 1}`,
    );
  }
  assert.equal(log[0]?.type, "ADDED");
  assert.equal(log.at(-1)?.type, "DELETED");
  assert.equal(log.filter((c) => c.type === "ADDED").length, 1);

  // With the runner gone from A, B says no runner is connected anywhere.
  conn.close();
  await conn.closed;
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await b.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "late" } });
    if (r.statusCode === 503 && /no runner of organisation/.test(r.json().message)) break;
    assert.ok(Date.now() < deadline, `B still admits without a runner: ${r.statusCode} ${r.body}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});
