// A runner is trusted only about its own organisation. Any org admin can connect one, so a runner
// that names another organisation's environment in what it reports (list, observe, sweep) must
// change nothing there: the report is dropped or the lying connection is closed.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { AUDIT_RUNNER_PROTOCOL_VIOLATION, connectRunner, type EnvObserved } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { startTlsServer } from "@warren/testing/tls-server";
import { systemClock } from "../src/clock.ts";
import { type Caller, createIdentityService } from "../src/services/identity.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Honest about its own environments, and names `foreign` in everything it reports. */
class LyingRunner extends FakeRunner {
  foreign = "";
  lieInObserve = false;
  override async list(): Promise<EnvObserved[]> {
    return [...(await super.list()), { id: this.foreign, state: "absent", reason: "a lie" }];
  }
  override async sweep(keep: Set<string>): Promise<string[]> {
    return [...(await super.sweep(keep)), this.foreign];
  }
  override async observe(id: string): Promise<EnvObserved> {
    const honest = await super.observe(id);
    return this.lieInObserve ? { ...honest, id: this.foreign } : honest;
  }
}

test("a runner's reports about another organisation's environment change nothing there", async () => {
  // Resyncs read every runner's list while the test watches.
  const d = await startTlsServer(cleanups, { resyncMs: 100 });
  const hub = d.hub;
  const at = { url: `https://127.0.0.1:${d.tls.port}`, fingerprint: d.tls.fingerprint };
  const connect = async (runner: FakeRunner, token: string) => {
    const c = await connectRunner({ ...at, token }, runner);
    cleanups.push(() => c.close());
    await c.ready;
    return c;
  };

  // The victim: the bootstrap organisation, its own honest runner, one running environment.
  const honest = new FakeRunner();
  const victimToken = await d.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "v" },
  });
  await connect(honest, victimToken.json().token);
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "victim" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const victimId = created.json().id as string;
  const victimRow = () =>
    d.store.db.selectFrom("environments").selectAll().where("id", "=", victimId).executeTakeFirstOrThrow();
  const before = await victimRow();

  // The liar: a second organisation whose admin connected a runner that names the victim's id.
  const now = new Date().toISOString();
  await d.store.db.insertInto("orgs").values({ id: "org_liar", name: "liar", created_at: now }).execute();
  await d.store.db
    .insertInto("users")
    .values({ id: "usr_mallory", name: "mallory", created_at: now })
    .execute();
  await d.store.db
    .insertInto("memberships")
    .values({ org_id: "org_liar", user_id: "usr_mallory", role: "owner", created_at: now })
    .execute();
  const mallory: Caller = {
    kind: "user",
    userId: "usr_mallory",
    orgId: "org_liar",
    role: "owner",
    via: "token",
  };
  const identity = createIdentityService({ db: d.store.db, clock: systemClock });
  const liar = new LyingRunner();
  liar.foreign = victimId;
  const liarToken = await identity.createRunnerToken(mallory, { name: "liar-host" });
  await connect(liar, liarToken.token); // its sweep at attach claims the victim's environment too
  const userToken = (await identity.createToken(mallory, { name: "m" })).token;
  const own = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "mine" },
    headers: { authorization: `Bearer ${userToken}` },
  });
  assert.equal(own.statusCode, 201, own.body);
  const ownId = own.json().id as string;

  // list: the lie never leaves the hub, so no resync acts on it.
  const listed = await hub.list();
  assert.ok(!listed.some((o) => o.reason === "a lie"), "the foreign entry is dropped");
  assert.deepEqual(
    listed.filter((o) => o.id === victimId).map((o) => o.state),
    ["running"],
    "the victim's own runner is the only one heard about it",
  );
  // The fake's list() observes each of its environments; a reconcile pass observes once more.
  const passes = () =>
    honest.callsOf("observe").filter(([id]) => id === victimId).length - honest.callsOf("list").length;
  const passesBefore = passes();
  await new Promise((r) => setTimeout(r, 700)); // several resyncs
  assert.ok(honest.callsOf("list").length > 2, "resyncs ran");
  assert.equal(passes(), passesBefore, "no resync pass was spent on the victim because of the lie");

  // observe: answering about another environment closes the liar's connection and is audited.
  liar.lieInObserve = true;
  await d.controller.reconcile(ownId).catch(() => {});
  const deadline = Date.now() + 5000;
  while (hub.connected().some((r) => r.runnerId === liarToken.id)) {
    assert.ok(Date.now() < deadline, "the lying connection was closed");
    await new Promise((r) => setTimeout(r, 20));
  }
  const ownRow = await d.store.db
    .selectFrom("environments")
    .selectAll()
    .where("id", "=", ownId)
    .executeTakeFirstOrThrow();
  assert.ok(!String(ownRow.observed).includes(victimId), "the lie was not stored as the liar's observation");
  const trail = await d.app.inject({
    method: "GET",
    url: `/api/v1/audit?action=${AUDIT_RUNNER_PROTOCOL_VIOLATION}`,
    headers: { authorization: `Bearer ${userToken}` },
  });
  assert.equal(trail.statusCode, 200, trail.body);
  assert.match(trail.json().items[0]?.target ?? "", /observe answered about another environment/);

  // Nothing about the victim changed: its row, its runner's state, and no call about it reached the liar.
  const after = await victimRow();
  assert.deepEqual(
    {
      state: after.state,
      desired: after.desired,
      observed: after.observed,
      conditions: after.conditions,
      updated: after.updated_at,
    },
    {
      state: before.state,
      desired: before.desired,
      observed: before.observed,
      conditions: before.conditions,
      updated: before.updated_at,
    },
  );
  assert.equal(honest.envs.get(victimId)?.state, "running");
  assert.ok(liar.calls.every((c) => !JSON.stringify(c.args).includes(victimId) || c.method === "sweep"));
  assert.equal(
    (await d.app.inject({ method: "GET", url: "/api/v1/environments/victim" })).json().state,
    "running",
  );
});
