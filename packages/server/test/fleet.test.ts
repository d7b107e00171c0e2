// The fleet's API, in-process: `GET /fleet/runners` shows each runner of the caller's
// organisation with its state, capacity, allocation, live usage and environments; cordon,
// uncordon and drain change what the scheduler reads, a drain stops the runner's running
// environments (and no others), and every refusal is the one the matrix promises: another
// organisation's runner is not found, members are forbidden, bad names are 400, a revoked token
// is 401. Runner rows are written as a runner's attach writes them: no API creates them.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { FleetList, FleetRunner, RunnerInfo } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { createAuditService } from "../src/services/audit.ts";
import { createFleetService } from "../src/services/fleet.ts";
import { type Caller, createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { insertEnv } from "../src/store/queries/envs.ts";
import { registerRunnerCapacity } from "../src/store/queries/fleet-admission.ts";
import { envRow } from "./store-fixtures.ts";

const GiB = 1024 ** 3;
const ORG_B = "org_fleet_b";
const F = "/api/v1/fleet/runners";

interface World {
  h: Harness;
  identity: IdentityService;
  remote: FastifyInstance;
  live: Map<string, RunnerInfo>;
  tokens: { admin: string; member: string; other: string };
  close(): Promise<void>;
}

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const info = (id: string, over: Partial<RunnerInfo> = {}): RunnerInfo => ({
  id,
  hostname: `${id}-host`,
  runtimes: ["runc", "crun"],
  cpus: 8,
  memoryBytes: 16 * GiB,
  diskFreeBytes: 100 * GiB,
  cgroupMode: "v2",
  idRange: { start: 100000, size: 65536 * 4 },
  ...over,
});

async function addRunner(
  h: Harness,
  r: { id: string; org?: string; replica?: string | null; seenMsAgo?: number; unreachable?: string },
  i: RunnerInfo = info(r.id),
) {
  const org = r.org ?? BOOTSTRAP_ORG_ID;
  await h.store.db
    .insertInto("runners")
    .values({
      id: r.id,
      org_id: org,
      name: r.id,
      hostname: i.hostname,
      info: JSON.stringify(i),
      image_refs: "[]",
      replica: r.replica === undefined ? "replica-1" : r.replica,
      seen_at: new Date(Date.now() - (r.seenMsAgo ?? 0)).toISOString(),
      labels: JSON.stringify(i.labels ?? {}),
      unreachable_since: r.unreachable ?? null,
    })
    .execute();
  await registerRunnerCapacity(h.store.db, { runnerId: r.id, orgId: org, info: i });
}

async function addEnv(h: Harness, name: string, runner: string, slot: number, state: "running" | "stopped") {
  const id = `${name.padStart(12, "0")}`;
  await insertEnv(h.store.db, envRow(id, { name, runner_id: runner, slot, state, desired: state }), {
    org_id: BOOTSTRAP_ORG_ID,
    owner_id: "usr_fleet_admin",
  });
  return id;
}

async function world(): Promise<World> {
  const h = await harness();
  const db = h.store.db;
  const clock = systemClock;
  const identity = createIdentityService({ db, clock });
  const live = new Map<string, RunnerInfo>();
  const fleet = createFleetService({
    db,
    clock,
    stop: (a, id) => h.envs.stop(a, id),
    live: (id) => live.get(id),
    drainWaitMs: 5000,
  });
  const remote = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    identity,
    transport: "tls",
    db,
    clock,
    audit: createAuditService({ db, clock }),
    fleet,
  });
  const now = new Date().toISOString();
  await db.insertInto("orgs").values({ id: ORG_B, name: "fleet-b", created_at: now }).execute();
  const user = async (name: string, role: Caller["role"], org = BOOTSTRAP_ORG_ID) => {
    const id = `usr_fleet_${name}`;
    await db
      .insertInto("users")
      .values({ id, name: `fleet-${name}`, created_at: now })
      .execute();
    await db.insertInto("memberships").values({ org_id: org, user_id: id, role, created_at: now }).execute();
    const caller: Caller = { kind: "user", userId: id, orgId: org, role, via: "token" };
    return (await identity.createToken(caller, { name: `${name}-token` })).token;
  };
  const tokens = { admin: await user("admin", "admin"), member: await user("member", "member"), other: "" };
  tokens.other = await user("other", "owner", ORG_B);
  return {
    h,
    identity,
    remote,
    live,
    tokens,
    async close() {
      await remote.close();
      await h.close();
    },
  };
}

const call = (method: "GET" | "POST", url: string, token?: string) =>
  w!.remote.inject({
    method,
    url,
    ...(method === "POST" ? { payload: {} } : {}),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

async function list(token: string): Promise<FleetList> {
  const res = await call("GET", F, token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as FleetList;
}

const byName = (l: FleetList, name: string): FleetRunner => {
  const r = l.items.find((x) => x.name === name);
  assert.ok(r, `${name} is listed: ${l.items.map((x) => x.name).join(", ")}`);
  return r;
};

const schedule = async (id: string) =>
  (
    await w!.h.store.db
      .selectFrom("runners")
      .select("schedule")
      .where("id", "=", id)
      .executeTakeFirstOrThrow()
  ).schedule;

test("fleet ls: the organisation's runners with state, capacity, allocated, live usage and environments", async () => {
  w = await world();
  const h = w.h;
  const stored = { cpuEwmaCores: 0.5, memoryWorkingSetBytes: 2 * GiB, memoryAvailableBytes: 14 * GiB };
  await addRunner(h, { id: "r1" }, info("r1", { labels: { zone: "a" }, usage: stored }));
  await addRunner(h, { id: "r2" });
  await h.store.db.updateTable("runners").set({ schedule: "cordoned" }).where("id", "=", "r2").execute();
  await addRunner(h, { id: "r3", replica: null, seenMsAgo: 5000 });
  await addRunner(h, { id: "r4", replica: "replica-2", seenMsAgo: 10 * 60_000 });
  await addRunner(h, { id: "r5", replica: null, unreachable: "2026-01-01T00:00:00.000Z" });
  await addRunner(h, { id: "rb", org: ORG_B });
  await addEnv(h, "e1", "r1", 0, "running");
  await addEnv(h, "e2", "r1", 1, "stopped");
  // Fresher than the row: this replica holds r1 and has its last heartbeat in memory.
  const fresh = { cpuEwmaCores: 1.25, memoryWorkingSetBytes: 3 * GiB, memoryAvailableBytes: 13 * GiB };
  w.live.set("r1", info("r1", { usage: fresh, unschedulable: "memory available 0.9 GiB is below 1 GiB" }));

  const l = await list(w.tokens.admin);
  assert.deepEqual(
    l.items.map((r) => [r.name, r.state]),
    [
      ["r1", "ready"],
      ["r2", "cordoned"],
      ["r3", "disconnected"],
      ["r4", "disconnected"],
      ["r5", "unreachable"],
    ],
    "sorted by name; another organisation's runner is not listed; a row held by a dead replica is disconnected",
  );
  const r1 = byName(l, "r1");
  assert.deepEqual(r1.labels, { zone: "a" });
  assert.equal(r1.hostname, "r1-host");
  assert.deepEqual(r1.runtimes, ["runc", "crun"]);
  // As registered (before its environments existed): free disk then, plus nothing allocated.
  assert.deepEqual(r1.capacity, { cpus: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB, slots: 4 });
  assert.deepEqual(r1.allocated, { cpus: 3, memoryBytes: 6 * GiB, diskBytes: 200 * GiB, slots: 2 });
  assert.deepEqual(r1.used, fresh, "live usage wins over the stored report");
  assert.equal(r1.unschedulable, "memory available 0.9 GiB is below 1 GiB");
  assert.deepEqual(r1.environments, { total: 2, running: 1 });
  assert.equal(byName(l, "r2").used, null, "no usage ever reported");
  assert.equal(byName(l, "r5").unreachableSince, "2026-01-01T00:00:00.000Z");
  assert.deepEqual(l.autoscaler, [], "no autoscaler runs");

  // The autoscaler's decisions, each organisation its own.
  const decision = (org: string, pool: string, text: string) => ({
    pool,
    org_id: org,
    desired: 3,
    current: 2,
    decision: text,
    at: "2026-01-01T00:00:00.000Z",
  });
  await h.store.db
    .insertInto("autoscaler_state")
    .values([
      decision(BOOTSTRAP_ORG_ID, "gp", "scale up: utilisation 80% > 50%"),
      decision(ORG_B, "b", "hold"),
    ])
    .execute();
  assert.deepEqual((await list(w.tokens.admin)).autoscaler, [
    { pool: "gp", desired: 3, decision: "scale up: utilisation 80% > 50%", at: "2026-01-01T00:00:00.000Z" },
  ]);

  const b = await list(w.tokens.other);
  assert.deepEqual(
    b.items.map((r) => r.name),
    ["rb"],
  );
  assert.deepEqual(b.items[0]!.environments, { total: 0, running: 0 });
});

test("cordon and uncordon set the schedule the scheduler reads, and are audited", async () => {
  w = await world();
  await addRunner(w.h, { id: "r1" });
  const res = await call("POST", `${F}/r1/cordon`, w.tokens.admin);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().runner.state, "cordoned");
  assert.deepEqual(res.json().stopping, []);
  assert.equal(await schedule("r1"), "cordoned");
  // Again: the same answer (an intent, not a toggle).
  assert.equal((await call("POST", `${F}/r1/cordon`, w.tokens.admin)).json().runner.state, "cordoned");
  const un = await call("POST", `${F}/r1/uncordon`, w.tokens.admin);
  assert.equal(un.json().runner.state, "ready");
  assert.equal(await schedule("r1"), "active");
  const records = await w.h.store.db
    .selectFrom("audit_records")
    .select(["action", "target", "result"])
    .where("action", "like", "fleet.%")
    .orderBy("id")
    .execute();
  assert.deepEqual(
    records.map((r) => ({ ...r })),
    [
      { action: "fleet.cordon", target: "r1", result: "ok" },
      { action: "fleet.cordon", target: "r1", result: "ok" },
      { action: "fleet.uncordon", target: "r1", result: "ok" },
    ],
  );
});

test("drain marks the runner draining and stops its running environments, and no others", async () => {
  w = await world();
  await addRunner(w.h, { id: "r1" });
  await addRunner(w.h, { id: "r2" });
  const a = await addEnv(w.h, "a", "r1", 0, "running");
  await addEnv(w.h, "b", "r1", 1, "stopped");
  const other = await addEnv(w.h, "c", "r2", 0, "running");
  const res = await call("POST", `${F}/r1/drain`, w.tokens.admin);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().runner.state, "draining");
  assert.deepEqual(res.json().stopping, [{ name: "a", state: "stopped" }], "only what was meant to run");
  assert.equal(await schedule("r1"), "draining");
  const desired = async (id: string) =>
    (
      await w!.h.store.db
        .selectFrom("environments")
        .select("desired")
        .where("id", "=", id)
        .executeTakeFirstOrThrow()
    ).desired;
  assert.equal(await desired(a), "stopped");
  assert.equal(await desired(other), "running", "another runner's environment is left alone");
  assert.equal(await schedule("r2"), "active");
  // Uncordon lets it take environments again; the stopped ones stay stopped.
  assert.equal((await call("POST", `${F}/r1/uncordon`, w.tokens.admin)).json().runner.state, "ready");
  assert.equal(await desired(a), "stopped");
});

test("refusals: another organisation's runner is not found, members are forbidden, bad names and tokens", async () => {
  w = await world();
  await addRunner(w.h, { id: "r1" });
  await addEnv(w.h, "a", "r1", 0, "running");
  for (const action of ["cordon", "uncordon", "drain"]) {
    const other = await call("POST", `${F}/r1/${action}`, w.tokens.other);
    assert.equal(other.statusCode, 404, other.body);
    assert.equal(other.json().code, "RUNNER_NOT_FOUND");
    assert.doesNotMatch(other.body, /r1-host|replica/, "nothing about the runner leaks");
    const member = await call("POST", `${F}/r1/${action}`, w.tokens.member);
    assert.equal(member.statusCode, 403, member.body);
  }
  assert.equal((await call("GET", F, w.tokens.member)).statusCode, 403);
  assert.equal(await schedule("r1"), "active", "no refused call changed it");

  const unknown = await call("POST", `${F}/nope/cordon`, w.tokens.admin);
  assert.equal(unknown.statusCode, 404);
  assert.equal(
    unknown.json().message,
    'runner "nope" does not exist in your organisation; see `warren fleet ls` for its runners',
  );
  const bad = await call("POST", `${F}/${encodeURIComponent("bad name!")}/cordon`, w.tokens.admin);
  assert.equal(bad.statusCode, 400, bad.body);
  assert.equal(bad.json().code, "INVALID_ARGUMENT");

  assert.equal((await call("GET", F)).statusCode, 401, "anonymous");
  const admin = await w.identity.listTokens({
    kind: "user",
    userId: "usr_fleet_admin",
    orgId: BOOTSTRAP_ORG_ID,
    role: "admin",
    via: "token",
  });
  await w.identity.revokeToken(
    { kind: "user", userId: "usr_fleet_admin", orgId: BOOTSTRAP_ORG_ID, role: "admin", via: "token" },
    admin[0]!.id,
  );
  assert.equal((await call("POST", `${F}/r1/drain`, w.tokens.admin)).statusCode, 401, "revoked");
  assert.equal(await schedule("r1"), "active");
});

test("environments carry their runner and placement; embedded mode lists its one runner and keeps it", async () => {
  const h = await harness();
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    db: h.store.db,
  });
  w = {
    h,
    identity: createIdentityService({ db: h.store.db, clock: systemClock }),
    remote: app,
    live: new Map(),
    tokens: { admin: "", member: "", other: "" },
    close: async () => {
      await app.close();
      await h.close();
    },
  };
  await addRunner(h, { id: "r9" });
  const id = await addEnv(h, "placed", "r9", 0, "stopped");
  await h.store.db
    .updateTable("environments")
    .set({ placement: "placed on r9: most free memory, image cached" })
    .where("id", "=", id)
    .execute();
  const env = (await app.inject({ method: "GET", url: "/api/v1/environments/placed" })).json();
  assert.deepEqual(env.runner, { id: "r9", name: "r9" });
  assert.equal(env.placement, "placed on r9: most free memory, image cached");
  const page = (await app.inject({ method: "GET", url: "/api/v1/environments" })).json();
  assert.deepEqual(page.items[0].runner, { id: "r9", name: "r9" });
  // A create answers with the runner it placed on (here the in-process one, which has no row).
  const made = await app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "made", cpus: 1 },
  });
  assert.equal(made.statusCode, 201, made.body);
  assert.deepEqual(made.json().runner, { id: "fake", name: "fake" });

  // Root on the local socket, embedded: the in-process runner is listed beside the store's rows.
  const l = (await app.inject({ method: "GET", url: F })).json() as FleetList;
  const local = byName(l, "fake-host");
  assert.equal(local.id, "fake");
  assert.equal(local.state, "ready");
  assert.equal(local.lastHeartbeat, null);
  const refused = await app.inject({ method: "POST", url: `${F}/fake-host/cordon`, payload: {} });
  assert.equal(refused.statusCode, 400, refused.body);
  assert.match(refused.json().message, /embedded daemon's own runner/);
});
