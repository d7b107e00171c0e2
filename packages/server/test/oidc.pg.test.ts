// Sign-ins in progress on PostgreSQL, where replicas really race: two stores (two connection
// pools, as two server processes have) on one database. On SQLite one connection serialises
// everything, so only here does "a code is redeemed once" test the DELETE ... RETURNING itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { systemClock } from "../src/clock.ts";
import { createOidcService } from "../src/services/oidc.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { openStoreUrl, type PgStore } from "../src/store/pg-store.ts";
import * as qo from "../src/store/queries/oidc.ts";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.stop();
});

async function twoStores(fn: (a: PgStore, b: PgStore) => Promise<void>) {
  const name = await cluster!.createDatabase({ migrated: true });
  const a = await openStoreUrl(cluster!.url(name));
  const b = await openStoreUrl(cluster!.url(name));
  try {
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
    await cluster!.dropDatabase(name);
  }
}

const service = (s: PgStore) =>
  createOidcService({
    config: {
      issuer: "http://127.0.0.1:1",
      clientId: "warren",
      redirectUrl: "http://warren.test/api/v1/auth/oidc/callback",
      mapping: [],
    },
    db: s.db,
    clock: systemClock,
  });
const iso = (ms: number) => new Date(ms).toISOString();

test("postgresql: an approved device code yields one token however many replicas poll at once", async () => {
  await twoStores(async (a, b) => {
    const [oa, ob] = [service(a), service(b)];
    const d = await oa.createDeviceCode();
    const approved = await qo.approveDeviceCode(b.db, {
      userCode: d.user_code,
      userId: BOOTSTRAP_OWNER_ID,
      orgId: BOOTSTRAP_ORG_ID,
      now: iso(Date.now()),
    });
    assert.equal(approved, true);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? oa : ob).pollDeviceCode(d.device_code)),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(won[0]?.status === "fulfilled" && won[0].value.status, "complete");
    for (const r of results)
      if (r.status === "rejected") {
        assert.ok(r.reason instanceof WarrenError, String(r.reason));
        assert.equal(r.reason.code, "INVALID_ARGUMENT");
      }
    const tokens = await a.db
      .selectFrom("api_tokens")
      .select("id")
      .where("name", "=", "oidc sign-in")
      .execute();
    assert.equal(tokens.length, 1);
    // Approving again (a second browser) finds nothing to approve.
    assert.equal(
      await qo.approveDeviceCode(a.db, {
        userCode: d.user_code,
        userId: BOOTSTRAP_OWNER_ID,
        orgId: BOOTSTRAP_ORG_ID,
        now: iso(Date.now()),
      }),
      false,
    );
  });
});

test("postgresql: a browser flow's state is taken by exactly one replica; expired rows are swept", async () => {
  await twoStores(async (a, b) => {
    const now = Date.now();
    const flow = (state: string, expires: number) => ({
      state_hash: state,
      verifier: "v",
      nonce_hash: "n",
      user_code: null,
      browser_hash: "b",
      created_at: iso(now),
      expires_at: iso(expires),
    });
    await qo.insertFlow(a.db, flow("live", now + 60_000));
    const taken = await Promise.all(
      Array.from({ length: 20 }, (_, i) => qo.takeFlow((i % 2 ? a : b).db, "live", i < 10 ? "other" : "b")),
    );
    assert.equal(taken.filter((t) => t !== undefined).length, 1);
    assert.equal(await qo.flowExists(a.db, "live"), false);

    await qo.insertFlow(a.db, flow("old", now - 1000));
    await qo.insertFlow(a.db, flow("new", now + 60_000));
    const dc = (hash: string, userCode: string, expires: number) => ({
      code_hash: hash,
      user_code: userCode,
      interval_s: 5,
      last_poll_at: null,
      approved_user_id: null,
      approved_org_id: null,
      created_at: iso(now),
      expires_at: iso(expires),
    });
    assert.equal(await qo.insertDeviceCode(a.db, dc("d1", "BBBB-CCCC", now - 1000)), true);
    assert.equal(
      await qo.insertDeviceCode(b.db, dc("d2", "BBBB-CCCC", now + 1000)),
      false,
      "user code in use",
    );
    assert.equal(await qo.sweepOidcPending(b.db, iso(now)), 2);
    assert.deepEqual(
      (await a.db.selectFrom("oidc_flows").select("state_hash").execute()).map((r) => r.state_hash),
      ["new"],
    );
    assert.equal(
      await qo.insertDeviceCode(b.db, dc("d2", "BBBB-CCCC", now + 1000)),
      true,
      "freed by the sweep",
    );
  });
});

test("postgresql: an (issuer, subject) links to one user only", async () => {
  await twoStores(async (a) => {
    const row = {
      issuer: "https://idp.example",
      subject: "s1",
      user_id: BOOTSTRAP_OWNER_ID,
      email: "root@example.com",
      created_at: "t",
      last_sign_in_at: "t",
    };
    await qo.insertIdentity(a.db, row);
    await assert.rejects(qo.insertIdentity(a.db, row));
    await qo.touchIdentity(a.db, row.issuer, row.subject, "new@example.com", "t2");
    const got = await qo.getIdentity(a.db, row.issuer, row.subject);
    assert.deepEqual([got?.email, got?.last_sign_in_at], ["new@example.com", "t2"]);
  });
});
