// Part of the shared store suite (store-suite.ts runs it on SQLite and PostgreSQL): from migration
// 036 on, a class may set the CPU governor's burst in cores. The class service refuses one out of
// bounds, the database refuses one below the class's cpus or above 64 even when written directly,
// an environment copies its class's burst at create, and the runner's spec carries it only when
// set (otherwise the runner's own factor applies).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { runnerSpec } from "../src/controllers/environment/act.ts";
import { silentLogger } from "../src/logger.ts";
import { createChangeFeed } from "../src/services/changes.ts";
import { createClassService } from "../src/services/classes.ts";
import { createEnvironmentService } from "../src/services/environments.ts";
import type { Db } from "../src/store/db.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import { getClass, toClassSpec } from "../src/store/queries/classes.ts";
import { getEnvByName } from "../src/store/queries/envs.ts";
import { type StoreBackend, withFreshDb } from "./store-suite.ts";

const GiB = 1024 ** 3;
const BURST_VERSION = 36;

function world(db: Db) {
  const runner = new FakeRunner({ diskFreeBytes: 100 * GiB });
  runner.cpus = 8;
  runner.memoryBytes = 64 * GiB;
  const envs = createEnvironmentService({
    db,
    runner,
    clock: systemClock,
    logger: silentLogger,
    changes: createChangeFeed(),
    enqueue: () => {},
    defaultRuntime: "runc",
  });
  return { envs, classes: createClassService({ db, clock: systemClock }) };
}

/** A class written straight to the table; without `burst`, as a database before 036 takes one. */
const directClass = (name: string, cpus: number, burst?: string) =>
  `insert into classes (name, cpus, memory_bytes, disk_bytes, pids, runtime, max_cpus, max_memory_bytes,
    max_disk_bytes, builtin, created_at${burst === undefined ? "" : ", cpu_burst"})
    values ('${name}', ${cpus}, ${GiB}, ${GiB}, 100, null, ${cpus}, ${GiB}, ${GiB}, 0, 't'${burst === undefined ? "" : `, ${burst}`})`;

export function cpuBurstSuite(backend: StoreBackend): void {
  describe(`per-class CPU burst on ${backend.name}`, () => {
    test(
      "a class stores its burst; a bad one is refused naming the flag and bounds, and no class is made",
      withFreshDb(backend, true, async (t) => {
        const s = await t.open();
        try {
          const w = world(s.db);
          const base = { cpus: 1, memory: "1g", disk: "5g" };
          for (const bad of [0.5, 65, Number.NaN]) {
            await assert.rejects(
              w.classes.create(ROOT, { name: "bad", ...base, cpuBurst: bad }),
              (err: unknown) =>
                isWarrenError(err, "INVALID_ARGUMENT") &&
                err.details?.["field"] === "cpuBurst" &&
                /--cpu-burst .* out of bounds: use a number of cores from the class's --cpus \(1; .*\) to 64/.test(
                  err.message,
                ),
            );
          }
          assert.equal(await getClass(s.db, "bad"), undefined, "nothing half-made");

          const made = await w.classes.create(ROOT, { name: "build", ...base, cpuBurst: 2.5 });
          assert.equal(made.cpuBurst, 2.5);
          assert.equal(toClassSpec((await getClass(s.db, "build"))!).cpuBurst, 2.5, "as a number, from both");
          const flat = await w.classes.create(ROOT, { name: "flat", ...base, cpuBurst: 1 });
          assert.equal(flat.cpuBurst, 1, "equal to its cpus: no burst, allowed");
          assert.equal((await w.classes.create(ROOT, { name: "plain", ...base })).cpuBurst, null);
          assert.equal(toClassSpec((await getClass(s.db, "default"))!).cpuBurst, null, "built-in: default");

          // The database holds the same bounds against a direct write.
          await assert.rejects(t.exec(directClass("under", 2, "1.5")), "below the class's cpus");
          await assert.rejects(t.exec(directClass("over", 2, "65")), "above 64");
          await t.exec(directClass("fine", 2, "2"));
        } finally {
          await s.close();
        }
      }),
    );

    test(
      "an environment copies its class's burst at create; the runner's spec carries it only when set",
      withFreshDb(backend, true, async (t) => {
        const s = await t.open();
        try {
          const w = world(s.db);
          await w.classes.create(ROOT, { name: "build", cpus: 1, memory: "1g", disk: "5g", cpuBurst: 3 });
          await w.envs.create(ROOT, { name: "b", className: "build" }, { wait: false });
          await w.envs.create(
            ROOT,
            { name: "d", className: "default", cpus: 1, memory: "1g" },
            { wait: false },
          );
          const b = (await getEnvByName(s.db, "b"))!;
          assert.equal(b.cpu_burst, 3);
          assert.equal(runnerSpec(b).cpuBurst, 3);
          const d = (await getEnvByName(s.db, "d"))!;
          assert.equal(d.cpu_burst, null);
          assert.equal("cpuBurst" in runnerSpec(d), false, "no class burst: the runner's default factor");
        } finally {
          await s.close();
        }
      }),
    );

    test(
      `an upgrade to ${BURST_VERSION} keeps existing classes on the runner's default`,
      withFreshDb(backend, false, async (t) => {
        await t.migrate(MIGRATIONS.filter((m) => m.version < BURST_VERSION));
        await t.exec(directClass("old", 2));
        const s = await t.open();
        try {
          assert.equal(toClassSpec((await getClass(s.db, "old"))!).cpuBurst, null);
        } finally {
          await s.close();
        }
        await assert.rejects(
          t.exec("update classes set cpu_burst = 1 where name = 'old'"),
          "the check holds",
        );
      }),
    );
  });
}
