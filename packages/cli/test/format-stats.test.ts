import assert from "node:assert/strict";
import { test } from "node:test";
import type { EnvStats } from "@warren/protocol";
import { statsRow, statsTable } from "../src/format-stats.ts";

const MiB = 1024 ** 2;
const base: EnvStats = {
  id: "abc",
  name: "dev",
  cpuCores: 0.256,
  memoryWorkingSetBytes: 64 * MiB,
  memoryLimitBytes: 256 * MiB,
  pids: 5,
  pidsLimit: 64,
  diskUsedBytes: 30 * MiB,
  diskQuotaBytes: 1024 * MiB,
  psi: { cpu: 0, memory: 1.5, io: null },
  oomKills: 2,
  at: "2025-01-01T00:00:00Z",
};

test("statsRow: cores, usage / limit with percent, pids / limit, disk, PSI, OOM kills", () => {
  assert.deepEqual(statsRow(base), [
    "dev",
    "0.26 cpus",
    "64Mi / 256Mi",
    "25.0%",
    "5 / 64",
    "30Mi / 1Gi",
    "0.00/1.50/-",
    "2",
  ]);
  const unlimited = statsRow({ ...base, memoryLimitBytes: Number.MAX_SAFE_INTEGER, pidsLimit: 0 });
  assert.equal(unlimited[2], "64Mi / unlimited");
  assert.equal(unlimited[3], "-");
  assert.equal(unlimited[4], "5");
});

test("statsTable sorts by name under the header", () => {
  const out = statsTable([
    { ...base, name: "zeta" },
    { ...base, name: "alpha" },
  ]);
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0]!, /^NAME\s+CPU\s+MEM USAGE \/ LIMIT/);
  assert.match(lines[1]!, /^alpha/);
  assert.match(lines[2]!, /^zeta/);
});
