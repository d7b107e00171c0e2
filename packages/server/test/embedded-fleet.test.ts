// Embedded mode (`warren daemon`): the in-process runner's capacity is recorded when the daemon
// starts, so `warren fleet ls` shows it with its real slots before anything was created, and
// placement's capacity row and slot free list are there for the first create.
import assert from "node:assert/strict";
import path from "node:path";
import { afterEach, test } from "node:test";
import type { FleetList } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { runDaemon } from "../src/daemon.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("the embedded runner is in the fleet, with its capacity, before the first create", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const runner = new FakeRunner();
  runner.slots = 5;
  runner.cpus = 8;
  runner.memoryBytes = 16 * 1024 ** 3;
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    runner,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
  });
  cleanups.push(() => d.close());

  const r = await d.app.inject({ method: "GET", url: "/api/v1/fleet/runners" });
  assert.equal(r.statusCode, 200, r.body);
  const { items } = r.json() as FleetList;
  assert.equal(items.length, 1);
  const local = items[0]!;
  assert.equal(local.id, "fake");
  assert.equal(local.state, "ready");
  assert.deepEqual(local.capacity, {
    cpus: 8,
    memoryBytes: 16 * 1024 ** 3,
    diskBytes: (await runner.info()).diskFreeBytes,
    slots: 5,
  });
  assert.deepEqual(local.allocated, { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0 });
  const slots = await d.store.db
    .selectFrom("runner_slots")
    .select("slot")
    .where("runner_id", "=", "fake")
    .execute();
  assert.deepEqual(slots.map((s) => s.slot).sort(), [0, 1, 2, 3, 4], "its slot free list exists");
  assert.equal(runner.callsOf("ensureRunning").length, 0, "nothing was created");
});
