// Paged, filtered environment lists (inject) and the SSE watch over a real unix-socket listener,
// read by the typed client: order, resume without loss or duplicates, and 410 after compaction.
import assert from "node:assert/strict";
import path from "node:path";
import { afterEach, test } from "node:test";
import { createClient, type Environment, isWarrenError, type WatchEvent } from "@warren/protocol";
import { type Harness, type HarnessOptions, harness, ROOT } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { silentLogger } from "../src/logger.ts";
import { NoActorError } from "../src/services/actor.ts";
import type { Caller } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createEnvWatchService, type EnvWatchService } from "../src/services/watch.ts";
import { compactEnvChanges } from "../src/store/queries/env-changes.ts";
import { FakeClock } from "./fake-clock.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
let watch: EnvWatchService | undefined;
afterEach(async () => {
  await app?.close();
  await watch?.close();
  await h?.close();
  app = undefined;
  watch = undefined;
  h = undefined;
});

async function setup(o: HarnessOptions = {}) {
  h = await harness(o);
  watch = createEnvWatchService({
    db: h.store.db,
    changes: h.changes,
    clock: systemClock,
    logger: silentLogger,
  });
  watch.start();
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    db: h.store.db,
    watch,
  });
  return { h, app, watch };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("pages cover every environment exactly once, in order, with filters", async () => {
  const clock = new FakeClock();
  const { h, app } = await setup({ autoReconcile: false, clock });
  const names = ["web-1", "web-2", "db-1", "web-3", "db-2", "web-4", "cache-1"];
  for (const name of names) {
    await h.envs.create(ROOT, { name }, { wait: false });
    await clock.advance(1000); // distinct created_at, so creation order is the list order
  }
  await h.store.db
    .updateTable("environments")
    .set({ state: "stopped" })
    .where("name", "in", ["web-2", "db-2", "web-4"])
    .execute();

  const all = async (query: string) => {
    const seen: Environment[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const q = `${query}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await app.inject({ method: "GET", url: `/api/v1/environments?${q}` });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json() as { items: Environment[]; nextCursor?: string };
      assert.ok(page.items.length <= 2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    return { names: seen.map((e) => e.name), pages };
  };
  const every = await all("x=1");
  assert.deepEqual(every.names, names, "creation order, each once");
  assert.equal(every.pages, 4);
  assert.deepEqual((await all("name=web-")).names, ["web-1", "web-2", "web-3", "web-4"]);
  assert.deepEqual((await all("state=stopped")).names, ["web-2", "db-2", "web-4"]);
  assert.deepEqual((await all("state=stopped&name=web")).names, ["web-2", "web-4"]);

  const whole = await app.inject({ method: "GET", url: "/api/v1/environments" });
  assert.equal(whole.json().items.length, 7, "the default page holds them all; items keeps its shape");
  assert.equal(whole.json().nextCursor, undefined);
  const bad = await app.inject({ method: "GET", url: "/api/v1/environments?cursor=nope" });
  assert.equal(bad.statusCode, 400);
  const badName = await app.inject({ method: "GET", url: "/api/v1/environments?name=%25" });
  assert.equal(badName.statusCode, 400);
});

test("a watch lists, then streams create/stop/delete in order, and resumes without loss", async () => {
  const { h, app, watch } = await setup();
  const sock = path.join(h.dir, "api.sock");
  await app.listen({ path: sock });
  const client = createClient({ socketPath: sock });
  await h.envs.create(ROOT, { name: "first" });
  assert.deepEqual(
    (await client.listEnvironments()).map((e) => e.name),
    ["first"],
  );

  const events: WatchEvent[] = [];
  const ac = new AbortController();
  const done = client.watchEnvironments({ signal: ac.signal }, (e) => events.push(e));
  await until(() => events.some((e) => e.type === "BOOKMARK"), "the initial list");
  assert.deepEqual(
    events.map((e) => [e.type, e.object?.name]),
    [
      ["ADDED", "first"],
      ["BOOKMARK", undefined],
    ],
  );
  const bookmark = events[1]!.resourceVersion;

  await h.envs.create(ROOT, { name: "second" });
  await h.envs.stop(ROOT, "second");
  // Changes between two recorder passes collapse into one MODIFIED (as in Kubernetes), so let the
  // watch see "stopped" before deleting.
  await until(() => events.some((e) => e.type === "MODIFIED" && e.object?.state === "stopped"), "stopped");
  await h.envs.delete(ROOT, "second", true);
  await until(() => events.some((e) => e.type === "DELETED"), "the delete");
  ac.abort();
  await done;

  const live = events.slice(2);
  assert.equal(live[0]?.type, "ADDED");
  assert.equal(live.at(-1)?.type, "DELETED");
  assert.ok(live.every((e) => e.object?.name === "second"));
  assert.ok(live.some((e) => e.type === "MODIFIED" && e.object?.state === "stopped"));
  const rvs = live.map((e) => e.resourceVersion);
  assert.ok(rvs[0]! > bookmark);
  for (let i = 1; i < rvs.length; i++) assert.ok(rvs[i]! > rvs[i - 1]!, "strictly increasing versions");

  // Resume from the middle: exactly the later events, none twice.
  const mid = live[Math.floor(live.length / 2)]!.resourceVersion;
  const resumed: WatchEvent[] = [];
  const ac2 = new AbortController();
  const done2 = client.watchEnvironments({ resourceVersion: mid, signal: ac2.signal }, (e) =>
    resumed.push(e),
  );
  await until(() => resumed.some((e) => e.type === "DELETED"), "the resumed delete");
  ac2.abort();
  await done2;
  assert.deepEqual(
    resumed.map((e) => e.resourceVersion),
    rvs.filter((rv) => rv > mid),
  );

  // Once history is compacted past a version, resuming from it is 410 WATCH_EXPIRED.
  await compactEnvChanges(h.store.db, await watch.sync());
  await assert.rejects(
    client.watchEnvironments({ resourceVersion: bookmark }, () => {}),
    (err: unknown) => isWarrenError(err, "WATCH_EXPIRED"),
  );
  const gone = await app.inject({
    method: "GET",
    url: `/api/v1/environments?watch=1&resourceVersion=${bookmark}`,
  });
  assert.equal(gone.statusCode, 410);
});

test("a restarted recorder records what changed while it was down, continuing the versions", async () => {
  const { h, watch: first } = await setup();
  await h.envs.create(ROOT, { name: "keep" });
  await h.envs.create(ROOT, { name: "gone" });
  const before = await first.sync();
  await first.close();
  watch = undefined;
  await h.envs.delete(ROOT, "gone", true);
  await h.envs.stop(ROOT, "keep");

  const second = createEnvWatchService({
    db: h.store.db,
    changes: h.changes,
    clock: systemClock,
    logger: silentLogger,
  });
  watch = second;
  const after = await second.sync();
  const { events: changes, through } = await second.changesAfter(ROOT, before);
  assert.deepEqual(
    changes.map((c) => [c.type, c.object?.name, c.object?.state]),
    [
      ["MODIFIED", "keep", "stopped"],
      ["DELETED", "gone", "running"],
    ],
  );
  assert.equal(after, changes.at(-1)?.resourceVersion);
  assert.equal(through, after);
  const snap = await second.snapshot(ROOT);
  assert.deepEqual(
    snap.items.map((i) => i.env.name),
    ["keep"],
  );

  // Another organisation's admin sees none of it, yet its cursor moves past it all the same.
  const outsider: Caller = { ...ROOT, orgId: "org_other", userId: "usr_other", role: "admin" };
  const theirs = await second.changesAfter(outsider, before);
  assert.deepEqual(theirs, { events: [], through: after });
  assert.deepEqual((await second.snapshot(outsider)).items, []);
  // Without an actor the watch refuses instead of showing everything.
  await assert.rejects(second.snapshot(undefined as unknown as Caller), NoActorError);
  await assert.rejects(second.changesAfter(null as unknown as Caller, before), NoActorError);
});
