// Store query latency on PostgreSQL: the daemon opens its store with openStoreAt and the metrics'
// query hook, and a PostgreSQL store must time its queries as the SQLite one does.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { createControlPlaneMetrics, storeTimer } from "../src/metrics/control-plane.ts";
import { type AnyStore, openStoreAt } from "../src/store/db.ts";
import { listEnvs } from "../src/store/queries/envs.ts";

let cluster: PgCluster | undefined;
let store: AnyStore | undefined;
let dbName = "";
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await store?.close();
  if (dbName) await cluster?.dropDatabase(dbName);
  await cluster?.stop();
});

test("a PostgreSQL store reports each query's operation and duration to the metrics", async () => {
  dbName = await cluster!.createDatabase({ migrated: true });
  const metrics = createControlPlaneMetrics({ processMetrics: false });
  const seen: { sql: string; seconds: number }[] = [];
  const timer = storeTimer(metrics);
  store = await openStoreAt(cluster!.url(dbName), {
    onQuery: (sql, seconds) => {
      seen.push({ sql, seconds });
      timer(sql, seconds);
    },
  });
  assert.equal(store.kind, "postgres");
  await listEnvs(store.db);
  await store.db
    .insertInto("orgs")
    .values({ id: "org_m", name: "m", created_at: new Date().toISOString() })
    .execute();
  await store.db.deleteFrom("orgs").where("id", "=", "org_m").execute();

  assert.ok(
    seen.some((q) => /^select/i.test(q.sql)),
    `a select was timed: ${JSON.stringify(seen.map((q) => q.sql))}`,
  );
  for (const q of seen) assert.ok(q.seconds >= 0 && q.seconds < 10, `a duration in seconds: ${q.seconds}`);
  const text = await metrics.registry.metrics();
  for (const op of ["select", "insert", "delete"]) {
    const m = new RegExp(`warren_store_query_duration_seconds_count\\{operation="${op}"\\} (\\d+)`).exec(
      text,
    );
    assert.ok(m && Number(m[1]) >= 1, `${op} counted:\n${text}`);
  }
});
