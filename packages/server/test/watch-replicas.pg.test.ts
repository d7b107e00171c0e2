// Two control-plane replicas on one PostgreSQL database, the runner on replica A. Each replica
// records only its own changes in the shared watch log, yet a watch held on replica B streams what
// A recorded (B hears A's appends over the change bus, not by recording them again), each change
// is in the log once, and the start's idle deadline is stored by the write that marks it running
// (before any idle pass, whose first one is 30 s away).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { connectRunner, unixTransport } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { watchProbe } from "@warren/testing/live-session-probes";
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
  const tmp = tempDir("warren-watch-replica-");
  cleanups.push(tmp.cleanup);
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    db,
    defaultRuntime: "runc",
    resyncMs: 600_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 8000,
    listen: "127.0.0.1:0",
  });
  cleanups.push(() => d.close());
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a watch on replica B streams the changes replica A recorded, each once in the log", async () => {
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

  const watch = watchProbe(unixTransport(b.socketPath));
  cleanups.push(() => watch.close());
  await watch.open;

  const created = await a.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().state, "running");
  const id = created.json().id as string;

  // The idle deadline came with the running state: updated_at + the default 30 minutes.
  const row = await a.store.db
    .selectFrom("environments")
    .select(["idle_deadline", "updated_at", "state"])
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
  assert.equal(row.state, "running");
  assert.equal(row.idle_deadline, new Date(Date.parse(row.updated_at) + 30 * 60_000).toISOString());

  // B streams A's "running" although B recorded nothing about it.
  const sawRunning = () =>
    watch.frames.some((f) => {
      if (f.kind !== "data") return false;
      const data = /^data: (.*)$/m.exec(f.text)?.[1];
      const ev = data ? (JSON.parse(data) as { object?: { id?: string; state?: string } }) : undefined;
      return ev?.object?.id === id && ev.object.state === "running";
    });
  for (const until = Date.now() + 5000; !sawRunning() && Date.now() < until; ) await sleep(20);
  assert.ok(
    sawRunning(),
    `B's watch never showed it running: ${watch.frames.map((f) => f.text).join(" | ")}`,
  );

  await sleep(300); // time for a duplicate to appear
  const log = await a.store.db
    .selectFrom("env_changes")
    .select(["type", "object"])
    .where("env_id", "=", id)
    .orderBy("rv")
    .execute();
  assert.equal(log[0]?.type, "ADDED");
  assert.equal(log.filter((c) => c.type === "ADDED").length, 1);
  for (let i = 1; i < log.length; i++)
    assert.notEqual(log[i]!.object, log[i - 1]!.object, `change ${i} repeats change ${i - 1}`);
  // The log ends where the row is.
  const env = await b.app.inject({ method: "GET", url: `/api/v1/environments/${id}` });
  assert.equal(JSON.parse(log.at(-1)!.object).state, env.json().state);
});
