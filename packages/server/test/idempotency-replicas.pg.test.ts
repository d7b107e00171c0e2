// Issue 5: "On PostgreSQL, with two server processes sharing the database and requests split
// between them, 200 concurrent creates sharing 20 keys give exactly 20 environments."
// Two real `warren server` processes on one database; a fake runner dials into each over TLS.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectRunner, type RunnerConnection } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { callJson, type ServerProcess, startServerProcess } from "@warren/testing/server-process";
import pg from "pg";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

async function token(s: ServerProcess, p: string): Promise<string> {
  const r = await callJson(s.local, "POST", p, { name: `t${Math.random()}` });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return (r.body as { token: string }).token;
}

test("200 concurrent creates with 20 keys over two servers make exactly 20 environments", async () => {
  const c = cluster!;
  const dbName = await c.createDatabase({ migrated: false });
  const db = c.url(dbName);
  const servers: ServerProcess[] = [];
  // Generous limits: this test is about idempotency, not the (per-process) rate limiter.
  const env = { WARREN_RATE_LIMIT: "100000", WARREN_RATE_BURST: "100000" };
  for (const name of ["a", "b"]) {
    const tmp = tempDir(`warren-replica-${name}-`);
    cleanups.push(tmp.cleanup);
    const s = await startServerProcess({ db, root: tmp.dir, env });
    cleanups.push(() => s.stop());
    servers.push(s);
  }
  const [a, b] = servers as [ServerProcess, ServerProcess];
  const runners: FakeRunner[] = [];
  for (const [i, s] of servers.entries()) {
    // Two runners of one organisation, live at once: each needs its own fleet name.
    const runner = new FakeRunner();
    runner.name = `host-${i}`;
    runner.cpus = 16; // room for all 20 (CPU limits may sum to 4× the cores)
    const conn: RunnerConnection = await connectRunner(
      { url: s.url, fingerprint: s.fingerprint, token: await token(s, "/api/v1/admin/runner-tokens") },
      runner,
    );
    cleanups.push(() => conn.close());
    await conn.ready;
    runners.push(runner);
  }
  // One user token, minted on A, accepted by B: both read the same database.
  const user = await token(a, "/api/v1/tokens");
  const via = [a.tls(user), b.tls(user)];

  // No name in the body: without idempotency every request would make its own environment.
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      callJson(
        via[i % 2]!,
        "POST",
        "/api/v1/environments?wait=0",
        { className: "default" },
        {
          "idempotency-key": `key-${i % 20}`,
        },
      ).then((r) => ({ ...r, key: `key-${i % 20}`, server: i % 2 })),
    ),
  );

  const idsByKey = new Map<string, Set<string>>();
  for (const r of replies) {
    const reply = r.body as { id?: string; code?: string };
    if (r.status === 409) {
      assert.equal(
        reply.code,
        "IDEMPOTENCY_CONFLICT",
        "a concurrent duplicate gets 409 IDEMPOTENCY_CONFLICT",
      );
      continue;
    }
    assert.equal(r.status, 201, `${JSON.stringify(r.body)}\n${[...a.problems, ...b.problems].join("\n")}`);
    const set = idsByKey.get(r.key) ?? new Set<string>();
    set.add(reply.id as string);
    idsByKey.set(r.key, set);
  }
  for (const [key, ids] of idsByKey) assert.equal(ids.size, 1, `${key} answered with one environment`);

  const pool = new pg.Pool({ connectionString: db, max: 1 });
  cleanups.push(() => pool.end());
  const { rows } = await pool.query("select count(*)::int as n from environments");
  assert.equal(rows[0].n, 20, "exactly 20 environments");
  const { rows: keys } = await pool.query(
    "select count(*)::int as n from idempotency_keys where state = 'done'",
  );
  assert.equal(keys[0].n, 20);
  // The requests really were split: both servers created some. (Which runner each environment
  // lands on is the scheduler's choice, not this test's subject.)
  const createdBy = [0, 1].map((s) => replies.filter((r) => r.server === s && r.status === 201).length);
  assert.ok(
    createdBy.every((n) => n > 0),
    `both replicas answered creates: ${createdBy}`,
  );
  // A retry after the dust settles replays the first result on either server.
  const again = await callJson(
    b.tls(user),
    "POST",
    "/api/v1/environments?wait=0",
    { className: "default" },
    {
      "idempotency-key": "key-0",
    },
  );
  assert.equal(again.status, 201);
  assert.ok(idsByKey.get("key-0")?.has((again.body as { id: string }).id));
});
