import type { Migration } from "./index.ts";

// Disk overcommit and disk I/O limits per class.
// - classes.disk_overcommit: how far placement may promise a runner's free disk to environment
//   disks (sum of --disk sizes over free bytes). Disks are sparse images, so 4:1 by default, as
//   for CPU; an operator who wants every byte reserved sets 1.
// - classes.read_bps / write_bps / read_iops / write_iops: the disk I/O limits of the class's
//   environments (bytes and operations per second); null is unlimited.
// - environments.io_limits: those limits as JSON (an IoLimits object), copied from the class at
//   create like the egress policy, so the runner's spec is built from the row alone. Null: none.
const common = (o: { real: string; big: string; json: (col: string) => string }) => `
alter table classes add column disk_overcommit ${o.real} not null default 4 check (disk_overcommit >= 1 and disk_overcommit <= 64);
alter table classes add column read_bps ${o.big} check (read_bps is null or read_bps > 0);
alter table classes add column write_bps ${o.big} check (write_bps is null or write_bps > 0);
alter table classes add column read_iops ${o.big} check (read_iops is null or read_iops > 0);
alter table classes add column write_iops ${o.big} check (write_iops is null or write_iops > 0);
alter table environments add column io_limits text${o.json("io_limits")};
`;

export const classDiskIo: Migration = {
  version: 34,
  name: "class_disk_io",
  sql: common({
    real: "real",
    big: "integer",
    json: (col) => ` check (${col} is null or json_valid(${col}))`,
  }),
  pg: common({ real: "double precision", big: "bigint", json: () => "" }),
};
