import type { Migration } from "./index.ts";

/** The owner of every unclaimed pool member; user ids are `usr_…`, so no user has it. */
export const POOL_OWNER_ID = "warren-pool";

// Warm pools (controllers/pool/): per (organisation, image, class), environments kept created and
// running but unclaimed, so a matching create takes one over instead of starting from nothing.
// - warm_pools: the configuration an admin sets (`warren pool set`): a minimum and maximum, and a
//   schedule (JSON list of UTC windows that raise the minimum, services/pool-schedule.ts), plus
//   what the controller remembers between passes: consecutive failed member creations and when it
//   may try again (exponential backoff), and the last error to show in `warren pool ls`.
// - warm_pool_claims: one row per claim, for the recent claim rate the size follows; the
//   controller prunes rows older than the window it reads.
// Members themselves are ordinary environment rows owned by the pool's reserved owner id
// (services/pool-owner.ts): hidden from every user, counted on their runner like any other.
const common = (o: { id: string }) => `
create table warm_pools (
  id text primary key check (length(id) between 1 and 64),
  org_id text not null references orgs (id) on delete cascade,
  image text not null check (length(image) between 1 and 512),
  class_name text not null check (length(class_name) between 1 and 63),
  min_size integer not null check (min_size between 0 and 100),
  max_size integer not null check (max_size between 0 and 100 and max_size >= min_size),
  schedule text not null default '[]' check (length(schedule) <= 4000),
  failures integer not null default 0 check (failures >= 0),
  retry_at text,
  last_error text check (last_error is null or length(last_error) <= 2000),
  claims_total integer not null default 0,
  created_at text not null,
  updated_at text not null,
  unique (org_id, image, class_name)
);
create table warm_pool_claims (
  id ${o.id},
  pool_id text not null references warm_pools (id) on delete cascade,
  env_id text not null,
  at text not null
);
create index warm_pool_claims_pool_at on warm_pool_claims (pool_id, at);
create index environments_owner on environments (owner_id, org_id);
`;

export const warmPools: Migration = {
  version: 35,
  name: "warm_pools",
  sql: common({ id: "integer primary key autoincrement" }),
  pg: common({ id: "bigserial primary key" }),
};
