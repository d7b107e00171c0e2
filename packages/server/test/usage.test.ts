// Usage accounting on SQLite (usage-suite.ts; usage.pg.test.ts runs it on PostgreSQL), then end to
// end: the environment controller's own transitions open and close the intervals, and the API.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { UsageReport } from "@warren/protocol";
import { harness, ROOT, tempDir } from "@warren/testing/server-harness";
import { type CpuReading, measuredIncrement } from "../src/controllers/usage/sampler.ts";
import { build } from "../src/http/build.ts";
import { createImageService } from "../src/services/images.ts";
import { openStore } from "../src/store/db.ts";
import { FakeClock } from "./fake-clock.ts";
import type { StoreBackend } from "./store-suite.ts";
import { usageSuite } from "./usage-suite.ts";

const sqlite: StoreBackend = {
  name: "sqlite",
  async fresh() {
    const tmp = tempDir();
    openStore(tmp.dir).close();
    const unused = async (): Promise<never> => {
      throw new Error("not used by the usage suite");
    };
    return {
      open: async () => openStore(tmp.dir),
      migrate: unused,
      exec: unused,
      query: unused,
      cleanup: async () => tmp.cleanup(),
    };
  },
};

usageSuite(sqlite);

test("the environment controller's own transitions are what /api/v1/usage reports", async (t) => {
  const clock = new FakeClock(Date.parse("2026-04-01T00:00:00.000Z"));
  const h = await harness({ clock });
  t.after(() => h.close());
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    db: h.store.db,
    clock,
    logger: false,
  });
  t.after(() => app.close());
  const start = clock.now();
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  assert.equal(env.state, "running");
  await clock.advance(90 * 60_000);
  await h.envs.stop(ROOT, "dev");
  await clock.advance(30 * 60_000);

  const until = new Date(clock.now()).toISOString();
  const res = await app.inject({
    method: "GET",
    url: `/api/v1/usage?by=class&since=${new Date(start).toISOString()}&until=${until}`,
  });
  assert.equal(res.statusCode, 200, res.body);
  const report = res.json() as UsageReport;
  const { cpus, memoryBytes, diskBytes } = env.spec.resources;
  assert.deepEqual(report.rows, [
    {
      key: env.spec.className,
      envSeconds: 5400,
      cpuSeconds: 5400 * cpus,
      memoryGiBHours: 1.5 * (memoryBytes / 2 ** 30),
      diskGiBHours: 2 * (diskBytes / 2 ** 30),
      measuredCpuSeconds: 0,
    },
  ]);

  const bad = await app.inject({ method: "GET", url: "/api/v1/usage?by=team" });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /by/);
  const unknown = await app.inject({ method: "GET", url: "/api/v1/usage?sinse=2026-01-01" });
  assert.equal(unknown.statusCode, 400);
});

test("measured CPU: the counter's difference when there is one, else cores × time; never past the allocation", () => {
  const run = { cpus: 2, startedMs: 0, measuredAtMs: 60_000 };
  const period = 30_000;
  const cases: [string, CpuReading, number][] = [
    ["counter difference", { cores: 9, total: 130, previousTotal: 100 }, 30_000],
    ["a counter that restarted counts from zero", { cores: 0, total: 5, previousTotal: 100 }, 5_000],
    ["a counter past the allocation is clamped", { cores: 0, total: 1_000, previousTotal: 0 }, 2 * 60_000],
    ["no previous reading: cores × time", { cores: 0.5, total: 100 }, 0.5 * 60_000],
    ["cores past the allocation are clamped", { cores: 64 }, 2 * 60_000],
    ["garbage from a runner counts nothing", { cores: Number.NaN }, 0],
    ["negative cores count nothing", { cores: -1 }, 0],
  ];
  for (const [what, reading, want] of cases)
    assert.equal(measuredIncrement(run, reading, 120_000, period), want, what);
  // Without a counter, a long gap (the control plane was down) counts two periods at most.
  assert.equal(measuredIncrement({ ...run, measuredAtMs: 0 }, { cores: 1 }, 3_600_000, period), 60_000);
});
