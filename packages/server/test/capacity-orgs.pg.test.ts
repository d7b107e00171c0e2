// Capacity per runner on PostgreSQL with two replicas: organisation A's runner is held by replica
// 1, B's by replica 2, and creates for both arrive at both replicas at once. Admission is locked
// per runner, so every create gets its own slot on its own runner (no duplicate-key failures), each
// runner fills exactly to its own capacity, and one organisation's creates never use the other's.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { capacityWorld, untilGone } from "./capacity-orgs-world.ts";

const ORG_B = "org_cap_b";
let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.stop();
});

const SLOTS = 6;

test("postgresql: concurrent creates of two organisations over two replicas fill each runner exactly", async () => {
  const db = cluster!.url(await cluster!.createDatabase({ migrated: false }));
  const runnerA = new FakeRunner();
  runnerA.slots = SLOTS;
  const w = await capacityWorld({ db, replicas: 2, runnerA });
  try {
    const [one, two] = w.servers as [(typeof w.servers)[0], (typeof w.servers)[0]];
    // B's runner dials into replica 2 (A's is on replica 1); B's first runner goes away.
    const runnerB = new FakeRunner();
    runnerB.slots = SLOTS;
    w.b.conn.close();
    await untilGone(one, w.b.runnerId);
    const b = { ...w.b, ...(await w.connect(ORG_B, runnerB, two)), runner: runnerB };

    // One more than each runner holds, for each organisation, half through each replica.
    const asks = [];
    for (let i = 0; i <= SLOTS; i++) {
      asks.push(w.create(w.a, `a${i}`, i % 2 ? one : two));
      asks.push(w.create(b, `b${i}`, i % 2 ? two : one));
    }
    const replies = await Promise.all(asks);
    const codes = replies.map((r) => (r.status === 201 ? "ok" : String(r.body["code"] ?? r.status)));
    assert.equal(codes.filter((c) => c === "ok").length, 2 * SLOTS, codes.join(" "));
    assert.deepEqual(
      codes.filter((c) => c !== "ok"),
      ["CAPACITY_EXHAUSTED", "CAPACITY_EXHAUSTED"],
      "exactly one refusal per organisation, and no duplicate slot",
    );

    for (const [orgId, runnerId] of [
      [BOOTSTRAP_ORG_ID, w.a.runnerId],
      [ORG_B, b.runnerId],
    ] as const) {
      const rows = Object.values(await w.recorded(orgId));
      assert.deepEqual(
        rows.map((r) => r.slot).sort((x, y) => x - y),
        [...Array(SLOTS).keys()],
        `${orgId} holds every slot of its own runner once`,
      );
      assert.ok(
        rows.every((r) => r.runner === runnerId),
        `${orgId}'s environments are recorded on its runner`,
      );
    }
    assert.equal(runnerB.envs.size, SLOTS, "B's runner runs B's environments");
  } finally {
    await w.close();
  }
});
