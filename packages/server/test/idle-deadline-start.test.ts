// A start stores its idle deadline in the write that marks the environment running (SQLite here;
// watch-replicas.pg.test.ts checks PostgreSQL's form), so the idle controller has nothing to record
// after it: the deadline is the timeout in force (the shortest of the owner's, the class's and the
// organisation's) after the start, and none when no timeout applies.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { planIdle } from "../src/controllers/idle/plan.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvByName } from "../src/store/queries/envs.ts";

const MIN = 60_000;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function running(name: string) {
  const row = (await getEnvByName(h!.store.db, name, BOOTSTRAP_ORG_ID))!;
  assert.equal(row.state, "running");
  return row;
}
const after = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

test("the running write stores the deadline; the idle plan then records none", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  const row = await running("dev");
  assert.equal(row.idle_deadline, after(row.updated_at, 30 * MIN), "the default 30 minutes");
  const snap = {
    id: row.id,
    name: row.name,
    timeoutSeconds: row.idle_timeout_s,
    since: Date.parse(row.updated_at),
    storedDeadline: Date.parse(row.idle_deadline!),
    terminals: 0,
  };
  assert.deepEqual(planIdle([snap], Date.parse(row.updated_at) + MIN), []);
});

test("a restart takes the shortest of the owner's, the class's and the organisation's timeouts", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev", idleTimeout: "2h" });
  const db = h.store.db;
  const cls = (await running("dev")).class_name;
  // Limits lowered after the environment was made bound it from its next start.
  await db.updateTable("classes").set({ idle_timeout_s: 3600 }).where("name", "=", cls).execute();
  // A deadline never moves back, so a stop that keeps the last run's later one would hide the
  // new timeout: clear it as an idle stop does (queries/idle.ts stopIdleEnv).
  const restart = async () => {
    await h!.envs.stop(ROOT, "dev", 0);
    await db.updateTable("environments").set({ idle_deadline: null }).where("name", "=", "dev").execute();
    await h!.envs.start(ROOT, "dev", { wait: true });
  };
  await restart();
  let row = await running("dev");
  assert.equal(row.idle_deadline, after(row.updated_at, 60 * MIN), "the class's hour");
  await db
    .insertInto("org_quotas")
    .values({
      org_id: BOOTSTRAP_ORG_ID,
      max_idle_timeout_s: 600,
      updated_at: new Date().toISOString(),
    } as never)
    .onConflict((oc) => oc.column("org_id").doUpdateSet({ max_idle_timeout_s: 600 }))
    .execute();
  await restart();
  row = await running("dev");
  assert.equal(row.idle_deadline, after(row.updated_at, 10 * MIN), "the organisation's 10 minutes");
});

test("a later deadline already stored is kept, as the idle controller keeps it", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  const far = "2099-01-01T00:00:00.000Z";
  await h.store.db
    .updateTable("environments")
    .set({ idle_deadline: far })
    .where("name", "=", "dev")
    .execute();
  await h.envs.stop(ROOT, "dev", 0);
  await h.envs.start(ROOT, "dev", { wait: true });
  assert.equal((await running("dev")).idle_deadline, far);
});

test("no timeout in force: no deadline", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "keep", idleTimeout: "never" });
  assert.equal((await running("keep")).idle_deadline, null);
});
