// The shared store suite on a real PostgreSQL that this file starts (@warren/testing/pg-cluster).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import pg from "pg";
import { openStoreAt } from "../src/store/db.ts";
import { migratePg } from "../src/store/migrate-pg.ts";
import { openStoreUrl } from "../src/store/pg-store.ts";
import { type StoreBackend, storeSuite } from "./store-suite.ts";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.stop();
});

const postgres: StoreBackend = {
  name: "postgresql",
  async fresh({ migrated }) {
    const c = cluster!;
    const name = await c.createDatabase({ migrated });
    const url = c.url(name);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on("error", () => {});
    return {
      open: () => openStoreUrl(url),
      migrate: (ms) => migratePg(pool, ms),
      exec: async (sql) => {
        await pool.query(sql);
      },
      query: async (sql) => (await pool.query(sql)).rows,
      cleanup: async () => {
        await pool.end();
        await c.dropDatabase(name);
      },
    };
  },
};

storeSuite(postgres);

test("postgresql: openStoreAt picks PostgreSQL for a postgres:// URL; the cluster is not UTC", async () => {
  const name = await cluster!.createDatabase();
  try {
    const store = await openStoreAt(cluster!.url(name));
    try {
      assert.equal(store.kind, "postgres");
      const tz = await store.db
        .selectNoFrom((eb) => eb.fn<string>("current_setting", [eb.val("TimeZone")]).as("tz"))
        .executeTakeFirstOrThrow();
      assert.equal(tz.tz, "Pacific/Auckland");
    } finally {
      await store.close();
    }
  } finally {
    await cluster!.dropDatabase(name);
  }
});

test("postgresql: replicas starting at once migrate exactly once", async () => {
  const name = await cluster!.createDatabase({ migrated: false });
  try {
    const stores = await Promise.all([1, 2, 3].map(() => openStoreUrl(cluster!.url(name))));
    try {
      const rows = await stores[0]!.db.selectFrom("schema_migrations").select("version").execute();
      assert.equal(rows.length, new Set(rows.map((r) => r.version)).size);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  } finally {
    await cluster!.dropDatabase(name);
  }
});
