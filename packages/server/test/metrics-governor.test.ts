// The CPU governor's series on /metrics, from the runner's stats: cap, grant, grants, throttling.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EnvStats } from "@warren/protocol";
import { envRegistry } from "../src/metrics/env-series.ts";

const base: EnvStats = {
  id: "e1",
  cpuCores: 0.9,
  memoryWorkingSetBytes: 1,
  memoryLimitBytes: 2,
  pids: 3,
  pidsLimit: 0,
  diskUsedBytes: 0,
  diskQuotaBytes: 0,
  psi: { cpu: null, memory: null, io: null },
  oomKills: 0,
  at: "2026-01-01T00:00:00Z",
};
const labels = (id: string) => ({ env_id: id, env_name: id, org: "o" });

test("governor series carry the runner's figures; an older runner's stats add none", async () => {
  const { registry, rejected } = envRegistry([
    {
      env: labels("e1"),
      stats: {
        ...base,
        cpuGovernor: {
          governed: true,
          limitCores: 1.5,
          baseCores: 0.75,
          burstCores: 1.5,
          granted: true,
          burstGrantsTotal: 4,
          throttledPeriodsTotal: 321,
          throttledSecondsTotal: 2.5,
        },
      },
    },
    { env: labels("e2"), stats: { ...base, id: "e2" } },
  ]);
  const text = await registry.metrics();
  const value = (name: string, id: string) =>
    new RegExp(`^${name}\\{env_id="${id}"[^}]*\\} (\\S+)$`, "m").exec(text)?.[1];
  assert.equal(value("warren_env_cpu_limit_cores", "e1"), "1.5");
  assert.equal(value("warren_env_cpu_burst_granted", "e1"), "1");
  assert.equal(value("warren_env_cpu_burst_grants_total", "e1"), "4");
  assert.equal(value("warren_env_cpu_throttled_periods_total", "e1"), "321");
  assert.equal(value("warren_env_cpu_throttled_seconds_total", "e1"), "2.5");
  assert.match(text, /^# TYPE warren_env_cpu_throttled_periods_total counter$/m);
  for (const n of ["cpu_limit_cores", "cpu_burst_granted", "cpu_throttled_periods_total"])
    assert.equal(value(`warren_env_${n}`, "e2"), undefined, `${n} for a runner without a governor view`);
  assert.deepEqual(rejected, []);
});

test("a runner's junk governor figure is dropped and counted, not exported", async () => {
  const { registry, rejected } = envRegistry([
    {
      env: labels("e1"),
      stats: {
        ...base,
        cpuGovernor: {
          governed: true,
          limitCores: -1,
          baseCores: 1,
          burstCores: 1,
          granted: false,
          burstGrantsTotal: 0,
          throttledPeriodsTotal: Number.NaN,
          throttledSecondsTotal: 0,
        },
      },
    },
  ]);
  assert.deepEqual(rejected.sort(), ["warren_env_cpu_limit_cores", "warren_env_cpu_throttled_periods_total"]);
  assert.doesNotMatch(await registry.metrics(), /warren_env_cpu_limit_cores\{/);
});
