// Usage accounting on one store backend (usage.test.ts: SQLite, usage.pg.test.ts: PostgreSQL).
// Environments change state through the same store queries the reconciler and services use
// (insertEnv, setState, updateEnvResources, deleteEnv), so migration 029's triggers are what is
// under test, together with the report's sums and who may see which rows. Times come from an
// injected clock; a "restart" closes the store and opens it again in the middle of a run.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UsageBy, UsageRow } from "@warren/protocol";
import { createUsageSampler } from "../src/controllers/usage/sampler.ts";
import type { UserActor } from "../src/services/actor.ts";
import { createUsageService } from "../src/services/usage.ts";
import type { Db } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { updateEnvResources } from "../src/store/queries/env-resources.ts";
import { deleteEnv, insertEnv, setState } from "../src/store/queries/envs.ts";
import { FakeClock } from "./fake-clock.ts";
import { envRow } from "./store-fixtures.ts";
import { type StoreBackend, withFreshDb } from "./store-suite.ts";

const GiB = 1024 ** 3;
const HOUR = 3_600_000;
const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const at = (hours: number) => new Date(T0 + hours * HOUR).toISOString();
const silent = { info() {}, warn() {}, debug() {}, error() {} } as never;

const user = (userId: string, orgId: string, role: UserActor["role"]): UserActor => ({
  kind: "user",
  userId,
  orgId,
  role,
  via: "token",
});
const ROOT = user(BOOTSTRAP_OWNER_ID, BOOTSTRAP_ORG_ID, "owner");
const ANN = user("usr_ann", BOOTSTRAP_ORG_ID, "member");
const BOB = user("usr_bob", "org_b", "member");
const B_ADMIN = user("usr_badm", "org_b", "admin");
const C_ADMIN = user("usr_cadm", "org_c", "admin");

async function people(db: Db): Promise<void> {
  await db
    .insertInto("orgs")
    .values([
      { id: "org_b", name: "beta", created_at: at(0) },
      { id: "org_c", name: "gamma", created_at: at(0) },
    ])
    .execute();
  await db
    .insertInto("users")
    .values(["ann", "bob", "badm", "cadm"].map((n) => ({ id: `usr_${n}`, name: n, created_at: at(0) })))
    .execute();
}

const row = (r: UsageRow | undefined) =>
  r && {
    key: r.key,
    envSeconds: r.envSeconds,
    cpuSeconds: r.cpuSeconds,
    memoryGiBHours: r.memoryGiBHours,
    diskGiBHours: r.diskGiBHours,
  };
const byKey = (rows: UsageRow[]) => new Map(rows.map((r) => [r.key, r]));

export function usageSuite(backend: StoreBackend): void {
  describe(`usage on ${backend.name}`, () => {
    test(
      "intervals follow state changes across a restart; sums by user, project, class and org; each sees only theirs",
      withFreshDb(backend, true, async (t) => {
        const clock = new FakeClock(T0);
        let s = await t.open();
        const d = () => s.db;
        await people(d());
        // ann: 2 cpus / 4 GiB / 10 GiB disk, a project; runs 1h..3h, resized to 4 cpus at 2h.
        await insertEnv(
          d(),
          envRow("annannannann", {
            project: "github.com/acme/api",
            cpus: 2,
            memory_bytes: 4 * GiB,
            disk_bytes: 10 * GiB,
            created_at: at(0),
            updated_at: at(0),
          }),
          { org_id: BOOTSTRAP_ORG_ID, owner_id: "usr_ann" },
        );
        // root: class "big", 1 cpu / 1 GiB / 1 GiB; starts at 2h and is still running at 4h.
        await insertEnv(
          d(),
          envRow("rootrootroot", {
            class_name: "big",
            slot: 1,
            cpus: 1,
            memory_bytes: GiB,
            disk_bytes: GiB,
            created_at: at(0),
            updated_at: at(0),
          }),
          { org_id: BOOTSTRAP_ORG_ID, owner_id: BOOTSTRAP_OWNER_ID },
        );
        // bob in another organisation: runs 1h..2h.
        await insertEnv(
          d(),
          envRow("bobbobbobbob", {
            slot: 2,
            cpus: 1,
            memory_bytes: GiB,
            disk_bytes: GiB,
            created_at: at(0),
            updated_at: at(0),
          }),
          { org_id: "org_b", owner_id: "usr_bob" },
        );
        // A deleted one of ann's: its 8 GiB disk counted for the hour it existed, nothing after.
        await insertEnv(
          d(),
          envRow("gonegonegone", { slot: 3, disk_bytes: 8 * GiB, created_at: at(0), updated_at: at(0) }),
          { org_id: BOOTSTRAP_ORG_ID, owner_id: "usr_ann" },
        );
        await setState(d(), "gonegonegone", { state: "deleting", now: at(1) });
        await deleteEnv(d(), "gonegonegone");

        await setState(d(), "annannannann", { state: "creating", now: at(0.5) });
        await setState(d(), "annannannann", { state: "running", now: at(1) });
        await setState(d(), "bobbobbobbob", { state: "running", now: at(1) });
        // A write that keeps the state (the setup controller's) splits nothing.
        await setState(d(), "annannannann", { state: "running", now: at(1.5) });
        // Measured CPU: the runner reports 0.5 cores, then claims 1000 (clamped to the 2 allocated).
        let cores = 0.5;
        const sampler = createUsageSampler({
          db: d(),
          runner: { stats: async (id) => ({ cpuCores: id === "annannannann" ? cores : 0 }) as never },
          clock,
          logger: silent,
          intervalMs: HOUR,
        });
        await clock.advance(1.5 * HOUR);
        assert.equal(await sampler.pass(), 2, "both running environments sampled");
        cores = 1000;
        await clock.advance(0.5 * HOUR);
        await sampler.pass();
        await updateEnvResources(d(), "annannannann", { cpus: 4, memoryBytes: 4 * GiB, pids: 100 }, at(2));
        await setState(d(), "bobbobbobbob", { state: "stopping", now: at(2) });
        await setState(d(), "bobbobbobbob", { state: "stopped", now: at(2.1) });
        await setState(d(), "rootrootroot", { state: "running", now: at(2) });

        // The control plane restarts while ann's and root's environments run.
        await s.close();
        s = await t.open();

        await setState(d(), "annannannann", { state: "stopping", now: at(3) });
        await setState(d(), "annannannann", { state: "stopped", now: at(3.2) });
        await clock.advance(2 * HOUR); // now 4h
        const svc = createUsageService({ db: d(), clock });
        const q = (by: UsageBy, since = at(0), until = at(4)) => ({ since, until, by });

        const all = byKey((await svc.report(ROOT, q("user"))).rows);
        assert.deepEqual(
          [...all.keys()].sort(),
          ["ann", "bob", "root"],
          "the operator sees every organisation",
        );
        assert.deepEqual(row(all.get("ann")), {
          key: "ann",
          envSeconds: 2 * 3600,
          cpuSeconds: 2 * 3600 + 4 * 3600,
          memoryGiBHours: 8,
          diskGiBHours: 10 * 4 + 8 * 1,
        });
        assert.equal(all.get("ann")?.measuredCpuSeconds, 0.5 * 1800 + 2 * 1800, "sampled, clamped");
        assert.deepEqual(row(all.get("root")), {
          key: "root",
          envSeconds: 2 * 3600,
          cpuSeconds: 2 * 3600,
          memoryGiBHours: 2,
          diskGiBHours: 4,
        });
        assert.deepEqual(row(all.get("bob")), {
          key: "bob",
          envSeconds: 3600,
          cpuSeconds: 3600,
          memoryGiBHours: 1,
          diskGiBHours: 4,
        });

        const projects = byKey((await svc.report(ROOT, q("project"))).rows);
        assert.equal(projects.get("github.com/acme/api")?.cpuSeconds, 6 * 3600);
        assert.equal(projects.get("(none)")?.cpuSeconds, 2 * 3600 + 3600);
        const classes = byKey((await svc.report(ROOT, q("class"))).rows);
        assert.equal(classes.get("big")?.envSeconds, 2 * 3600);
        assert.equal(classes.get("default")?.envSeconds, 3 * 3600);
        const orgs = byKey((await svc.report(ROOT, q("org"))).rows);
        assert.equal(orgs.get("default")?.envSeconds, 4 * 3600);
        assert.equal(orgs.get("beta")?.envSeconds, 3600);

        // A window clips intervals: 1.5h..2.5h holds half an hour at 2 cpus and half at 4.
        const clipped = (await svc.report(ANN, q("user", at(1.5), at(2.5)))).rows;
        assert.deepEqual(
          clipped.map((r) => [r.key, r.envSeconds, r.cpuSeconds]),
          [["ann", 3600, 1800 * 2 + 1800 * 4]],
        );

        // A member sees their own only, whatever the grouping.
        assert.deepEqual(
          (await svc.report(ANN, q("user"))).rows.map((r) => r.key),
          ["ann"],
        );
        assert.deepEqual(
          (await svc.report(ANN, q("org"))).rows.map((r) => [r.key, r.envSeconds]),
          [["default", 2 * 3600]],
        );
        // Another organisation's admin sees its own organisation; an organisation with nothing sees nothing.
        assert.deepEqual(
          (await svc.report(B_ADMIN, q("user"))).rows.map((r) => r.key),
          ["bob"],
        );
        assert.deepEqual(
          (await svc.report(BOB, q("class"))).rows.map((r) => [r.key, r.envSeconds]),
          [["default", 3600]],
        );
        assert.deepEqual((await svc.report(C_ADMIN, q("user"))).rows, []);
        await assert.rejects(
          svc.report({ kind: "runner", orgId: BOOTSTRAP_ORG_ID, tokenId: "tok" }, q("user")),
          (e: Error & { code?: string }) => e.code === "FORBIDDEN",
        );

        // Open intervals count up to now: root's keeps running.
        await clock.advance(HOUR);
        const later = byKey((await svc.report(ROOT, q("user", at(0), at(10)))).rows);
        assert.equal(later.get("root")?.envSeconds, 3 * 3600);
        assert.equal(later.get("ann")?.envSeconds, 2 * 3600, "a stopped environment stays stopped");
        await s.close();
      }),
    );

    test(
      "bad windows are refused with what to send instead",
      withFreshDb(backend, true, async (t) => {
        const s = await t.open();
        try {
          const svc = createUsageService({ db: s.db, clock: new FakeClock(T0) });
          const refused = async (query: Record<string, string>, pattern: RegExp) =>
            assert.rejects(
              svc.report(ROOT, query),
              (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && pattern.test(e.message),
            );
          await refused({ since: "yesterday" }, /since "yesterday": expected an ISO 8601 date/);
          await refused({ since: at(2), until: at(1) }, /since must be before until/);
          await refused({ since: "1990-01-01" }, /at most 3660 days/);
          await refused({ by: "team" }, /by "team": expected one of user, project, class, org/);
          const empty = await svc.report(ROOT, {});
          assert.deepEqual(empty, {
            since: new Date(T0 - 30 * 24 * HOUR).toISOString(),
            until: at(0),
            by: "user",
            rows: [],
          });
        } finally {
          await s.close();
        }
      }),
    );
  });
}
