// The runner autoscaler end to end in one process: a real `warren server` (TLS, runner hub,
// SQLite), the `local` provider starting simulated hosts as separate processes (fixtures/
// autoscaler-sim-host.ts: the real runner protocol, 8 GiB each), and the controller driven pass by
// pass on its own clock. A burst of creates scales up, a cooldown holds, idleness scales down by
// draining and deleting an empty host, never one holding an environment.
import assert from "node:assert/strict";
import path from "node:path";
import { afterEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "@warren/testing/server-harness";
import { startTlsServer, type TlsServer } from "@warren/testing/tls-server";
import { sql } from "kysely";
import { Registry } from "prom-client";
import { parseAutoscalerConfig } from "../src/autoscaler/config.ts";
import { createLocalProvider } from "../src/autoscaler/providers/local.ts";
import type { Clock } from "../src/clock.ts";
import { createAutoscalerController } from "../src/controllers/autoscaler/controller.ts";
import { silentLogger } from "../src/logger.ts";
import { createAutoscalerMetrics } from "../src/metrics/autoscaler.ts";
import { createAuditService } from "../src/services/audit.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SIM_HOST = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "fixtures",
  "autoscaler-sim-host.ts",
);

/** Real timers, a time that only the test moves forward. */
function shiftedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    advance(ms) {
      offset += ms;
    },
  };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    assert.ok(Date.now() < deadline, `timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function world() {
  const d: TlsServer = await startTlsServer(cleanups, {}, "warren-autoscaler-");
  const state = tempDir("warren-autoscaler-hosts-");
  cleanups.push(state.cleanup);
  const configWith = (minRunners: number) =>
    parseAutoscalerConfig(
      "test.json",
      JSON.stringify({
        intervalSeconds: 1,
        pools: [
          {
            name: "burst",
            org: "default",
            labels: { pool: "burst" },
            minRunners,
            maxRunners: 3,
            averageUtilization: 50,
            maxStepUp: 2,
            scaleUpCooldownSeconds: 60,
            scaleDownCooldownSeconds: 120,
            scaleDownStabilizationSeconds: 120,
            provider: { type: "local", stateDir: state.dir, command: [process.execPath, SIM_HOST] },
          },
        ],
      }),
      { root: d.dir },
    );
  const provider = createLocalProvider({
    stateDir: state.dir,
    command: [process.execPath, SIM_HOST],
    stopTimeoutMs: 3000,
  });
  const clock = shiftedClock();
  const registry = new Registry();
  const audit = createAuditService({ db: d.store.db, clock });
  const metrics = createAutoscalerMetrics(registry);
  // The same pool, one controller per minimum (tests change it as an operator edits the file).
  const controllers = new Map<number, ReturnType<typeof createAutoscalerController>>();
  const ctlWith = (minRunners: number) => {
    const made =
      controllers.get(minRunners) ??
      createAutoscalerController({
        db: d.store.db,
        clock,
        logger: silentLogger,
        config: configWith(minRunners),
        replicaId: "test-replica",
        server: () => ({ url: d.url, fingerprint: d.fingerprint }),
        audit,
        metrics,
        providers: new Map([["burst", provider]]),
      });
    controllers.set(minRunners, made);
    return made;
  };
  // Every host the test's provider made goes, whatever the test's outcome.
  cleanups.push(async () => {
    const rows = await d.store.db.selectFrom("autoscaler_hosts").select(["provider_id"]).execute();
    for (const r of rows) if (r.provider_id) await provider.delete(r.provider_id);
  });
  const pass = async (minRunners = 1) => {
    const plan = (await ctlWith(minRunners).pass()).get("burst");
    assert.ok(plan, "this replica holds the pool's lease");
    return plan;
  };
  const connected = (n: number) =>
    until(`${n} runner(s) connected`, async () => d.hub.connected().length === n);
  const hosts = () => d.store.db.selectFrom("autoscaler_hosts").selectAll().orderBy("created_at").execute();
  const create = (name: string) =>
    d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name, className: "default" } });
  return { d, clock, pass, connected, hosts, create, registry, provider };
}

test("autoscaler: a burst scales up, a cooldown holds, idleness drains and deletes an empty host", async () => {
  const w = await world();

  // No runner: below min, the first host is asked for at once.
  const first = await w.pass();
  assert.match(first.decision, /^scale up 0 → 1: below min 1$/);
  await w.connected(1);
  const adopted = await w.pass();
  assert.match(adopted.decision, /^steady at 1/);
  const [h1] = await w.hosts();
  assert.equal(h1?.state, "ready", "its runner connected: adopted");
  const token = await w.d.store.db
    .selectFrom("api_tokens")
    .selectAll()
    .where("id", "=", h1?.runner_id ?? "")
    .executeTakeFirstOrThrow();
  assert.ok(
    Date.parse(token.expires_at) > Date.now() + 86_400_000,
    "a joined host's token lives on as its credential",
  );

  // The burst: four 2 GiB environments fill the 8 GiB host; the fifth cannot be placed.
  for (const n of ["a", "b", "c", "d"]) {
    const r = await w.create(n);
    assert.equal(r.statusCode, 201, r.body);
  }
  const refused = await w.create("e");
  assert.notEqual(refused.statusCode, 201, "the fifth does not fit anywhere");

  // The scale-up to min was just now: the cooldown holds.
  const held = await w.pass();
  assert.match(held.decision, /^hold at 1: want 2 .*scale-up cooldown/);
  assert.equal((await w.hosts()).length, 1, "no host asked for during the cooldown");

  w.clock.advance(61_000);
  const up = await w.pass();
  assert.match(up.decision, /^scale up 1 → 2: /);
  await w.connected(2);
  await w.pass();
  assert.deepEqual(
    (await w.hosts()).map((h) => h.state),
    ["ready", "ready"],
  );
  const e = await w.create("e");
  assert.equal(e.statusCode, 201, `placed on the new host: ${e.body}`);

  // Idle: everything deleted. Below target, but not yet for the stabilisation window.
  for (const n of ["a", "b", "c", "d", "e"]) {
    const r = await w.d.app.inject({ method: "DELETE", url: `/api/v1/environments/${n}?force=true` });
    assert.equal(r.statusCode, 204, r.body);
  }
  await until("environment rows gone", async () => {
    const r = await sql<{ n: number }>`select count(*) as n from environments`.execute(w.d.store.db);
    return Number(r.rows[0]?.n) === 0;
  });
  const stabilising = await w.pass();
  assert.match(stabilising.decision, /^hold at 2: want 1 .*stabilising for 120s$/);

  w.clock.advance(121_000);
  const down = await w.pass();
  assert.match(
    down.decision,
    /^scale down 2 → 1: memory utilisation 0% .*; draining burst-[0-9a-f]{8} \(empty\)$/,
  );
  const draining = (await w.hosts()).find((h) => h.state === "draining");
  assert.ok(draining, "one host is draining");
  const runner = await w.d.store.db
    .selectFrom("runners")
    .select("schedule")
    .where("id", "=", draining.runner_id)
    .executeTakeFirst();
  assert.equal(runner?.schedule, "draining");

  const gone = await w.pass();
  assert.match(gone.decision, /^steady at 1/);
  const after = await w.hosts();
  assert.deepEqual(after.map((h) => h.state).sort(), ["deleted", "ready"]);
  assert.equal(
    (await w.provider.status(draining.provider_id ?? "")).state,
    "gone",
    "its process was stopped",
  );
  await w.connected(1);
  const revoked = await w.d.store.db
    .selectFrom("api_tokens")
    .select("revoked_at")
    .where("id", "=", draining.runner_id)
    .executeTakeFirst();
  assert.ok(revoked?.revoked_at, "the deleted host's token is revoked");

  // Visible: the decision row, the audit trail and the metrics.
  const row = await w.d.store.db.selectFrom("autoscaler_state").selectAll().executeTakeFirstOrThrow();
  assert.equal(row.desired, 1);
  assert.match(row.decision, /^steady at 1/);
  const audit = await w.d.store.db
    .selectFrom("audit_records")
    .select(["action", "target", "actor"])
    .where("action", "=", "fleet.autoscale")
    .execute();
  const targets = audit.map((a) => a.target);
  assert.ok(
    targets.some((t) => /^burst: scale up 0 → 1/.test(t)),
    targets.join("\n"),
  );
  assert.ok(
    targets.some((t) => /^burst: scale down 2 → 1/.test(t)),
    targets.join("\n"),
  );
  assert.ok(
    targets.some((t) => /^burst: deleted host burst-.*: drained and empty$/.test(t)),
    targets.join("\n"),
  );
  assert.ok(audit.every((a) => a.actor === "autoscaler"));
  const text = await w.registry.metrics();
  assert.match(text, /warren_autoscaler_desired_runners\{pool="burst"\} 1/);
  assert.match(text, /warren_autoscaler_actions_total\{pool="burst",action="create"\} 2/);
  assert.match(text, /warren_autoscaler_actions_total\{pool="burst",action="delete"\} 1/);
});

test("autoscaler: hosts holding stopped environments are never removed", async () => {
  const w = await world();
  // Two hosts (the operator's minimum is 2), one stopped environment on each.
  assert.match((await w.pass(2)).decision, /^scale up 0 → 2: below min 2$/);
  await w.connected(2);
  await w.pass(2);
  for (const name of ["keep1", "keep2"]) {
    const r = await w.create(name);
    assert.equal(r.statusCode, 201, r.body);
    const stop = await w.d.app.inject({
      method: "POST",
      url: `/api/v1/environments/${name}/stop`,
      payload: { graceSeconds: 0 },
    });
    assert.equal(stop.statusCode, 200, stop.body);
  }
  const on = await w.d.store.db.selectFrom("environments").select("runner_id").distinct().execute();
  assert.equal(on.length, 2, "placement spread them over both hosts");
  // The minimum drops to 0 and the pool idles for hours: it wants fewer runners, yet both hosts
  // keep their stopped environment's disk.
  w.clock.advance(3_600_000);
  await w.pass(0);
  w.clock.advance(3_600_000);
  const plan = await w.pass(0);
  assert.match(plan.decision, /^hold at 2: want 1 .*no empty runner this autoscaler made to remove$/);
  assert.deepEqual(
    (await w.hosts()).map((h) => h.state),
    ["ready", "ready"],
  );
  const schedules = await w.d.store.db.selectFrom("runners").select("schedule").execute();
  assert.deepEqual(
    schedules.map((r) => r.schedule),
    ["active", "active"],
  );
});
