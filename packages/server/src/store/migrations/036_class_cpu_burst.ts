import type { Migration } from "./index.ts";

// The CPU governor's burst per class.
// - classes.cpu_burst: the cap in cores the runner's governor raises a throttled environment of
//   the class to while the host has idle cores; at least the class's cpus (equal: no burst) and at
//   most 64. Null: the runner's default, WARREN_GOVERNOR_BURST_FACTOR × the environment's cpus.
// - environments.cpu_burst: copied from the class at create, like io_limits, so the runner's spec
//   is built from the row alone. Null: the runner's default.
const common = (real: string) => `
alter table classes add column cpu_burst ${real} check (cpu_burst is null or (cpu_burst >= cpus and cpu_burst <= 64));
alter table environments add column cpu_burst ${real} check (cpu_burst is null or (cpu_burst > 0 and cpu_burst <= 64));
`;

export const classCpuBurst: Migration = {
  version: 36,
  name: "class_cpu_burst",
  sql: common("real"),
  pg: common("double precision"),
};
