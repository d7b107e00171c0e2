import type { Migration } from "./index.ts";

// The runner autoscaler (controllers/autoscaler/).
// - autoscaler_state: one row per pool (the configuration file names pools): what it decided
//   last (`decision`, `at`, `desired`, shown by `warren fleet ls`), what the plan remembers
//   between passes (the last scale up and down, since when utilisation has been below target),
//   and a lease (`holder`, `lease_until`) so only one replica acts for a pool at a time.
// - autoscaler_hosts: every host it asked a provider for, keyed by the request id the provider
//   treats as idempotency key. runner_id is the runner token minted for the host, hence the id
//   its runner gets when it connects; state follows creating → ready → draining → deleted (or
//   failed, deleting while a delete is retried).
const common = (o: { real: string; strict: string }) => `
create table autoscaler_state (
  pool text primary key check (length(pool) between 1 and 63),
  org_id text not null,
  desired integer not null default 0,
  current integer not null default 0,
  utilization ${o.real},
  decision text not null default '' check (length(decision) <= 2000),
  at text not null,
  last_up_at text,
  last_down_at text,
  below_since text,
  holder text,
  lease_until text
)${o.strict};
create table autoscaler_hosts (
  request_id text primary key check (length(request_id) between 1 and 128),
  pool text not null,
  org_id text not null,
  runner_id text not null unique,
  runner_name text not null,
  provider_id text,
  state text not null check (state in ('creating', 'ready', 'draining', 'deleting', 'deleted', 'failed')),
  error text check (error is null or length(error) <= 2000),
  created_at text not null,
  updated_at text not null
)${o.strict};
create index autoscaler_hosts_pool on autoscaler_hosts (pool, state);
`;

export const autoscaler: Migration = {
  version: 32,
  name: "autoscaler",
  sql: common({ real: "real", strict: " strict" }),
  pg: common({ real: "double precision", strict: "" }),
};
