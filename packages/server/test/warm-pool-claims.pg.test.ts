// Warm-pool claims on PostgreSQL, as two replicas make them: many creates race for a few ready
// members over two connection pools. FOR UPDATE SKIP LOCKED hands each member to exactly one
// claim; the rest find none (and would create afresh), and nobody waits on a locked row.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { type AnyStore, openStoreAt } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { POOL_OWNER_ID } from "../src/store/migrations/035_warm_pools.ts";
import { insertEnv } from "../src/store/queries/envs.ts";
import { claimMember, upsertPool } from "../src/store/queries/pool.ts";
import { envRow } from "./store-fixtures.ts";

let cluster: PgCluster | undefined;
const stores: AnyStore[] = [];
let dbName = "";
before(async () => {
  cluster = await startPgCluster();
  dbName = await cluster.createDatabase({ migrated: true });
  stores.push(await openStoreAt(cluster.url(dbName)), await openStoreAt(cluster.url(dbName)));
});
after(async () => {
  for (const s of stores) await s.close();
  if (dbName) await cluster?.dropDatabase(dbName);
  await cluster?.stop();
});

const MEMBERS = 6;
const CLAIMS = 24;

test("postgresql: racing claims over two replicas never hand one member out twice", async () => {
  const [one, two] = stores as [AnyStore, AnyStore];
  const now = new Date().toISOString();
  const pool = {
    id: "pool_pg",
    org_id: BOOTSTRAP_ORG_ID,
    image: "img",
    class_name: "default",
    min_size: MEMBERS,
    max_size: MEMBERS,
    schedule: "[]",
    failures: 0,
    retry_at: null,
    last_error: null,
    claims_total: 0,
    created_at: now,
    updated_at: now,
  };
  await upsertPool(one.db, pool);
  const ids: string[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const id = `member${String(i).padStart(6, "0")}`;
    ids.push(id);
    await insertEnv(one.db, envRow(id, { name: `pool-${id}`, slot: i, state: "running" }), {
      org_id: BOOTSTRAP_ORG_ID,
      owner_id: POOL_OWNER_ID,
    });
  }
  // One member still starting: never claimable.
  await insertEnv(one.db, envRow("starting0000", { name: "pool-starting", slot: 99, state: "creating" }), {
    org_id: BOOTSTRAP_ORG_ID,
    owner_id: POOL_OWNER_ID,
  });

  const results = await Promise.all(
    Array.from({ length: CLAIMS }, (_, i) =>
      claimMember((i % 2 ? two : one).db, pool, {
        name: `user-env-${i}`,
        ownerId: `usr_${i}`,
        userName: "root",
        idleTimeoutS: 1800,
        conditions: "[]",
        now,
      }),
    ),
  );
  const won = results.filter((r) => r !== undefined);
  assert.equal(won.length, MEMBERS, "every ready member was claimed, and no more claims succeeded");
  assert.deepEqual(won.map((r) => r.id).sort(), ids, "each member exactly once");
  const rows = await one.db.selectFrom("environments").selectAll().where("id", "in", ids).execute();
  for (const r of rows) {
    const i = Number(r.name.replace("user-env-", ""));
    assert.equal(r.owner_id, `usr_${i}`, "the row names the claim that won it, name and owner together");
  }
  const claims = await one.db.selectFrom("warm_pool_claims").selectAll().execute();
  assert.equal(claims.length, MEMBERS);
  assert.equal(new Set(claims.map((c) => c.env_id)).size, MEMBERS);
  const p = await one.db.selectFrom("warm_pools").selectAll().executeTakeFirstOrThrow();
  assert.equal(Number(p.claims_total), MEMBERS);
  const starting = await one.db
    .selectFrom("environments")
    .select("owner_id")
    .where("id", "=", "starting0000")
    .executeTakeFirstOrThrow();
  assert.equal(starting.owner_id, POOL_OWNER_ID, "a member not yet running is never handed out");
});
