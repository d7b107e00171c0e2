// Idle stop end to end on the real store, services and environment controller (fake runner), with
// the idle controller and the activity tracker on an injected clock, so 30 minutes pass in
// milliseconds. Terminal use goes through the real exec WebSocket.
import assert from "node:assert/strict";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, test } from "node:test";
import { Channel, controlFrame, frame } from "@warren/protocol";
import { type Harness, harness, ROOT, tempDir } from "@warren/testing/server-harness";
import { createIdleController, type IdleController } from "../src/controllers/idle/controller.ts";
import { build } from "../src/http/build.ts";
import { listenUnix } from "../src/http/listen.ts";
import { type ActivityState, createActivityTracker } from "../src/services/activity.ts";
import { persistActivity } from "../src/services/idle-settings.ts";
import { createImageService } from "../src/services/images.ts";
import { createQuotaService } from "../src/services/quotas.ts";
import { migrate } from "../src/store/migrate.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import { type EnvRow, getEnvByName, toEnvironment } from "../src/store/queries/envs.ts";
import { listEvents } from "../src/store/queries/events.ts";
import { execWs } from "./exec-ws-client.ts";
import { FakeClock, flush } from "./fake-clock.ts";
import { V1_ROWS } from "./store-fixtures.ts";

const MIN = 60_000;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface World {
  h: Harness;
  clock: FakeClock;
  activity: ActivityState;
  idle: IdleController;
  /** The environment's row now. */
  row(name?: string): Promise<EnvRow>;
  /** Moves the clock to `minutes` after the environment last changed state, then runs one pass. */
  at(minutes: number): Promise<string[]>;
}

async function world(name = "dev", req: { idleTimeout?: string } = {}): Promise<World> {
  const h = await harness();
  cleanup.push(() => h.close());
  await h.envs.create(ROOT, { name, ...req });
  const row = async (n = name) => (await getEnvByName(h.store.db, n, BOOTSTRAP_ORG_ID))!;
  const start = Date.parse((await row()).updated_at);
  const clock = new FakeClock(start);
  const activity = createActivityTracker({ clock, persist: (id, a) => persistActivity(h.store.db, id, a) });
  const idle = createIdleController({
    db: h.store.db,
    clock,
    logger: { info() {}, warn() {}, debug() {}, error() {} } as never,
    changes: h.changes,
    enqueue: (id) => h.controller.enqueue(id, { now: true }),
    activity,
  });
  cleanup.push(() => activity.close());
  const at = async (minutes: number) => {
    await clock.advance(start + minutes * MIN - clock.now());
    await flush();
    return (await idle.pass()).map((a) => a.type);
  };
  return { h, clock, activity, idle, row, at };
}

async function untilState(w: World, state: string): Promise<EnvRow> {
  for (let i = 0; i < 200; i++) {
    const r = await w.row();
    if (r.state === state) return r;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never became ${state}: ${(await w.row()).state}`);
}

test("an idle environment stops after 30 minutes by default, keeping its disk", async () => {
  const w = await world();
  const r = await w.row();
  assert.equal(r.idle_timeout_s, 1800, "new environments default to 30 minutes");
  assert.deepEqual(await w.at(1), [], "the start stored the deadline: nothing left to record");
  const env = toEnvironment(await w.row());
  assert.equal(env.idle?.stopDeadline, new Date(w.clock.now() + 29 * MIN).toISOString());
  assert.deepEqual(await w.at(29.9), []);
  assert.deepEqual(await w.at(30), ["stop"]);
  const stopped = await untilState(w, "stopped");
  assert.equal(stopped.desired, "stopped");
  assert.equal(w.h.runner.callsOf("ensureStopped").length, 1);
  assert.equal(w.h.runner.callsOf("remove").length, 0, "the disk is kept");
  const events = await listEvents(w.h.store.db, stopped.id);
  assert.match(
    events.map((e) => e.message).join("\n"),
    /stopped after 30m without use; not used since it started/,
  );
  // Stopped environments are not looked at again.
  assert.deepEqual(await w.at(120), []);
});

test("terminal input and output through the exec WebSocket keep it up; it stops 30 minutes after the last", async () => {
  const w = await world();
  const app = build({
    envs: w.h.envs,
    classes: w.h.classes,
    images: createImageService({ runner: w.h.runner }),
    runner: w.h.runner,
    logger: false,
    activity: w.activity,
  });
  const sock = path.join(w.h.dir, "run", "w.sock");
  await listenUnix(app, sock);
  cleanup.push(() => app.close());
  await w.at(20);
  // A terminal opened at 20 minutes, then silent until 25, when a keystroke is echoed back.
  const x = execWs(sock, "dev", ["cat"]);
  await new Promise((r) => x.ws.once("open", r));
  await flush();
  await w.at(25);
  x.ws.send(frame(Channel.stdin, Buffer.from("k")));
  x.ws.send(controlFrame({ type: "eof" }));
  const out = await x.done;
  assert.equal(out.stdout, "k");
  await flush();
  const r = await w.row();
  assert.equal(r.last_activity_kind, "terminal");
  assert.equal(r.last_activity_source, "local-root");
  assert.equal(r.idle_deadline, new Date(w.clock.now() + 30 * MIN).toISOString(), "from the keystroke at 25");
  assert.deepEqual(await w.at(31), [], "past the first deadline, kept by the use at 25 minutes");
  const env = toEnvironment(await w.row());
  assert.equal(env.idle?.lastActivity?.kind, "terminal");
  assert.deepEqual(await w.at(54.9), []);
  assert.deepEqual(await w.at(55), ["stop"]);
  await untilState(w, "stopped");
});

test("a disconnect inside the grace period keeps it; an open but silent connection does not", async () => {
  const w = await world();
  const id = (await w.row()).id;
  await w.at(10);
  w.activity.record(id, "ssh", "user:u1");
  const disconnect = w.activity.connected(id, "user:u1");
  // Silent but open from 10 to 44 minutes: the deadline (40) passes, a pass at 41 stops it...
  const silent = await world("other");
  const sid = (await silent.row("other")).id;
  silent.activity.connected(sid, "user:u1");
  assert.deepEqual(await silent.at(31), ["stop"], "an open but silent connection is not use");
  // ...while here the connection closes at 39: 5 minutes' grace from that disconnect.
  await w.at(39);
  disconnect();
  assert.deepEqual(await w.at(41), [], "past the deadline but inside the grace");
  assert.deepEqual(await w.at(43.9), []);
  assert.deepEqual(await w.at(44), ["stop"]);
  await untilState(w, "stopped");
});

test("connected terminals are warned 5 minutes before the stop, once", async () => {
  const w = await world();
  const id = (await w.row()).id;
  const seen: string[] = [];
  w.activity.connected(id, "user:u1", (m) => seen.push(m));
  assert.deepEqual(await w.at(24.9), []);
  assert.deepEqual(seen, []);
  assert.deepEqual(await w.at(25), ["warn"]);
  assert.equal(seen.length, 1);
  assert.match(
    seen[0]!,
    /dev has not been used for a while and stops in about 5 minutes \(idle timeout 30m\)/,
  );
  assert.deepEqual(await w.at(27), [], "warned once");
  // Use after the warning moves the deadline; the next one is warned again.
  w.activity.record(id, "terminal", "user:u1");
  assert.deepEqual(await w.at(51), []);
  assert.deepEqual(await w.at(52), ["warn"]);
  assert.equal(seen.length, 2);
});

test("never is never stopped; the organisation's maximum bounds new and existing environments", async () => {
  const w = await world("keep", { idleTimeout: "never" });
  assert.equal((await w.row("keep")).idle_timeout_s, null);
  assert.deepEqual(await w.at(24 * 60), []);
  const quotas = createQuotaService({ db: w.h.store.db, clock: w.clock });
  const view = await quotas.set(ROOT, BOOTSTRAP_ORG_ID, { maxIdleTimeout: "2h" });
  assert.equal(view.quotas.maxIdleTimeoutSeconds, 7200);
  // A new environment's default is shortened to the maximum only when the maximum is shorter.
  await w.h.envs.create(ROOT, { name: "fresh" });
  assert.equal((await w.row("fresh")).idle_timeout_s, 1800);
  await quotas.set(ROOT, BOOTSTRAP_ORG_ID, { maxIdleTimeout: "10m" });
  await w.h.envs.create(ROOT, { name: "short" });
  assert.equal((await w.row("short")).idle_timeout_s, 600);
  // Asking past the maximum is refused, saying what to ask for; nothing is made.
  await assert.rejects(w.h.envs.create(ROOT, { name: "long", idleTimeout: "never" }), (err: Error) => {
    assert.match(
      err.message,
      /idle timeout never is longer than the organisation's maximum of 10m; ask for 10m or less/,
    );
    return true;
  });
  assert.equal(await getEnvByName(w.h.store.db, "long", BOOTSTRAP_ORG_ID), undefined);
  await assert.rejects(w.h.envs.setResources(ROOT, "keep", { idleTimeout: "1h" }), /maximum of 10m/);
  await assert.rejects(
    w.h.envs.setResources(ROOT, "keep", { idleTimeout: "soon" }),
    /invalid idleTimeout "soon"/,
  );
  const set = await w.h.envs.setResources(ROOT, "keep", { idleTimeout: "5m" });
  assert.equal(set.idle?.timeoutSeconds, 300);
  // The never-environment made before the maximum is bounded by it now.
  const stops = await w.at(24 * 60 + 1);
  assert.ok(stops.filter((s) => s === "stop").length >= 1);
  assert.equal((await w.row("keep")).desired, "stopped");
});

test("existing environments migrate to never; the upgrade stops nothing", async () => {
  const tmp = tempDir();
  const db = new DatabaseSync(path.join(tmp.dir, "old.db"));
  cleanup.push(() => {
    db.close();
    tmp.cleanup();
  });
  migrate(
    db,
    MIGRATIONS.filter((m) => m.version < 23),
  );
  for (const sql of V1_ROWS) db.exec(sql);
  assert.deepEqual(
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 23),
    ),
    [23],
  );
  const rows = db.prepare("select * from environments").all() as unknown as EnvRow[];
  assert.ok(rows.length >= 1);
  for (const r of rows) {
    assert.equal(r.idle_timeout_s, null, `${r.name} migrates to never`);
    assert.deepEqual(toEnvironment(r).idle, { timeoutSeconds: null });
  }
});
