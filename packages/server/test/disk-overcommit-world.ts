// Disk overcommit as a user meets it, on either store: twenty `warren up` calls at once, each
// for a 10 GiB disk, against one runner that reports 78 GiB free (and plenty of everything
// else, so disk is the only thing that can bind). Shared by the SQLite and PostgreSQL tests.
import assert from "node:assert/strict";
import { isWarrenError } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { silentLogger } from "../src/logger.ts";
import { createChangeFeed } from "../src/services/changes.ts";
import { createClassService } from "../src/services/classes.ts";
import { recordResize } from "../src/services/env-resize-admission.ts";
import { createEnvironmentService } from "../src/services/environments.ts";
import type { Db } from "../src/store/db.ts";
import { liveResourcesOf } from "../src/store/queries/env-resources.ts";
import { runnerCapacity } from "../src/store/queries/fleet-admission.ts";

export const GiB = 1024 ** 3;
export const CREATES = 20;
const base = { cpus: 1, memory: "1g", disk: "10g" };

export function diskWorld(db: Db) {
  const runner = new FakeRunner({ diskFreeBytes: 78 * GiB });
  runner.cpus = 64;
  runner.memoryBytes = 512 * GiB;
  runner.slots = 64;
  const envs = createEnvironmentService({
    db,
    runner,
    clock: systemClock,
    logger: silentLogger,
    changes: createChangeFeed(),
    enqueue: () => {},
    defaultRuntime: "runc",
  });
  const classes = createClassService({ db, clock: systemClock });
  /** CREATES creates at once of the class; the outcome of each. */
  const burst = (className: string) =>
    Promise.allSettled(
      Array.from({ length: CREATES }, (_, i) =>
        envs.create(ROOT, { name: `${className}-${i}`, className, cpus: 0.5, memory: "1g" }, { wait: false }),
      ),
    );
  return { classes, burst, base };
}

/** 4:1 (the class default): all twenty fit, reserving their full 200 GiB against 312. */
export async function allFitAtFourToOne(db: Db): Promise<void> {
  const w = diskWorld(db);
  const cls = await w.classes.create(ROOT, { name: "dev", ...base });
  assert.equal(cls.diskOvercommit, 4, "the default ratio");
  const outcomes = await w.burst("dev");
  const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [String(o.reason)] : []));
  assert.deepEqual(refused, [], "none refused");
  const rows = await db.selectFrom("environments").select(["runner_id"]).execute();
  assert.equal(rows.length, CREATES);
  const cap = await runnerCapacity(db, rows[0]!.runner_id);
  assert.equal(cap?.alloc.diskBytes, CREATES * 10 * GiB);
  // The runner's disk is now promised past its free space, as the class allows: growing an
  // environment's CPU adds no disk, so it must not be refused for disk.
  const row = await db
    .selectFrom("environments")
    .selectAll()
    .where("name", "=", "dev-0")
    .executeTakeFirstOrThrow();
  const before = liveResourcesOf(row);
  const grown = await recordResize(db, row, before, { ...before, cpus: 1 }, new Date().toISOString());
  assert.equal(grown?.cpus, 1);
}

/** 1:1: seven fit in 78 GiB, the eighth and every later one is refused for disk, with figures. */
export async function eighthRefusedAtOneToOne(db: Db): Promise<void> {
  const w = diskWorld(db);
  await w.classes.create(ROOT, { name: "strict", ...base, diskOvercommit: 1 });
  const outcomes = await w.burst("strict");
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 7, "7 × 10 GiB fit in 78 GiB");
  for (const o of outcomes) {
    if (o.status === "fulfilled") continue;
    const err = o.reason as unknown;
    assert.ok(isWarrenError(err, "INSUFFICIENT_DISK"), String(err));
    assert.match(
      err.message,
      /needs 10Gi, environments already reserve 70Gi and the host has 78Gi free \(its class promises free disk up to 1:1, so 78Gi in all\).*--disk-overcommit/,
    );
  }
}
