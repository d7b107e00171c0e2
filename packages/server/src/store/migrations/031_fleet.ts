import type { Migration } from "./index.ts";

// Runners as a pool (server/src/scheduler, runners/).
// - runners gain a name (unique per organisation among rows with one), labels (JSON object of
//   string values), a scheduling state (active, cordoned, draining) and the moment the control
//   plane last lost sight of them (`unreachable_since`; null while connected or never lost), and
//   the id the runner keeps in its state root (`host_id`), so a host that comes back under a new
//   token is known as the same host and keeps its environments.
// - runner_capacity is admission's hot row, one per runner: what the runner reported (cpus,
//   memory, disk for environments, slots) and what admitted environments reserve (alloc_*),
//   which triggers on environments keep exact for every insert, delete, resize and move. A create
//   first locks the row with a conditional UPDATE that succeeds only if the environment fits,
//   so the critical section is that statement and the insert that follows it.
// - runner_slots is each runner's free list of slots (65,536-id blocks): a create claims the
//   lowest free one with FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent creates on one
//   runner never queue for a slot. Triggers mark it taken when its environment row is inserted
//   (whatever path inserted it) and free it when the row goes or moves.
// - environments.placement: the scheduler's explanation ("placed on r3: ..."), shown by inspect.
// - classes gain the labels a runner must carry and their overcommit ratios (CPU default 4,
//   memory default 1, at most 1.5).
// - fleet_demand: creates the scheduler could not place, for the autoscaler (pruned by age).
// Existing runner_totals stays (read by older queries) and is dropped by a later migration.
const common = (o: {
  json: (col: string) => string;
  real: string;
  big: string;
  strict: string;
  id: string;
}) => `
alter table runners add column name text check (name is null or length(name) between 1 and 63);
alter table runners add column labels text not null default '{}'${o.json("labels")};
alter table runners add column schedule text not null default 'active' check (schedule in ('active', 'cordoned', 'draining'));
alter table runners add column unreachable_since text;
alter table runners add column host_id text check (host_id is null or length(host_id) between 8 and 64);
create unique index runners_org_name on runners (org_id, name);
update runners set name = substr(hostname, 1, 63) where name is null and not exists
  (select 1 from runners r2 where r2.org_id = runners.org_id and r2.hostname = runners.hostname and r2.id < runners.id);

create table runner_capacity (
  runner_id text primary key,
  org_id text not null,
  cpus ${o.real} not null default 0 check (cpus >= 0),
  memory_bytes ${o.big} not null default 0 check (memory_bytes >= 0),
  disk_bytes ${o.big} not null default 0 check (disk_bytes >= 0),
  slots integer not null default 0 check (slots >= 0),
  alloc_cpus ${o.real} not null default 0,
  alloc_memory_bytes ${o.big} not null default 0,
  alloc_disk_bytes ${o.big} not null default 0,
  alloc_envs integer not null default 0
)${o.strict};
insert into runner_capacity (runner_id, org_id, alloc_cpus, alloc_memory_bytes, alloc_disk_bytes, alloc_envs)
  select e.runner_id, min(e.org_id), sum(e.cpus), sum(e.memory_bytes), sum(e.disk_bytes), count(*)
  from environments e group by e.runner_id;

create table runner_slots (
  runner_id text not null,
  slot integer not null check (slot >= 0),
  env_id text,
  primary key (runner_id, slot)
)${o.strict};
create index runner_slots_free on runner_slots (runner_id, slot) where env_id is null;
insert into runner_slots (runner_id, slot, env_id) select runner_id, slot, id from environments;

alter table environments add column placement text check (placement is null or length(placement) <= 2000);

alter table classes add column required_labels text not null default '{}'${o.json("required_labels")};
alter table classes add column cpu_overcommit ${o.real} not null default 4 check (cpu_overcommit >= 1 and cpu_overcommit <= 64);
alter table classes add column memory_overcommit ${o.real} not null default 1 check (memory_overcommit >= 1 and memory_overcommit <= 1.5);

create table fleet_demand (
  id ${o.id},
  org_id text not null,
  cpus ${o.real} not null,
  memory_bytes ${o.big} not null,
  disk_bytes ${o.big} not null,
  at text not null
)${o.strict};
create index fleet_demand_at on fleet_demand (org_id, at);
`;

const sqliteTriggers = `
create trigger runner_capacity_insert after insert on environments begin
  insert or ignore into runner_capacity (runner_id, org_id) values (new.runner_id, new.org_id);
  update runner_capacity set alloc_cpus = alloc_cpus + new.cpus, alloc_memory_bytes = alloc_memory_bytes + new.memory_bytes,
    alloc_disk_bytes = alloc_disk_bytes + new.disk_bytes, alloc_envs = alloc_envs + 1 where runner_id = new.runner_id;
  insert into runner_slots (runner_id, slot, env_id) values (new.runner_id, new.slot, new.id)
    on conflict (runner_id, slot) do update set env_id = excluded.env_id;
end;
create trigger runner_capacity_delete after delete on environments begin
  update runner_capacity set alloc_cpus = alloc_cpus - old.cpus, alloc_memory_bytes = alloc_memory_bytes - old.memory_bytes,
    alloc_disk_bytes = alloc_disk_bytes - old.disk_bytes, alloc_envs = alloc_envs - 1 where runner_id = old.runner_id;
  update runner_slots set env_id = null where runner_id = old.runner_id and slot = old.slot and env_id = old.id;
end;
create trigger runner_capacity_update after update of cpus, memory_bytes, disk_bytes, runner_id, slot on environments begin
  update runner_capacity set alloc_cpus = alloc_cpus - old.cpus, alloc_memory_bytes = alloc_memory_bytes - old.memory_bytes,
    alloc_disk_bytes = alloc_disk_bytes - old.disk_bytes, alloc_envs = alloc_envs - 1 where runner_id = old.runner_id;
  insert or ignore into runner_capacity (runner_id, org_id) values (new.runner_id, new.org_id);
  update runner_capacity set alloc_cpus = alloc_cpus + new.cpus, alloc_memory_bytes = alloc_memory_bytes + new.memory_bytes,
    alloc_disk_bytes = alloc_disk_bytes + new.disk_bytes, alloc_envs = alloc_envs + 1 where runner_id = new.runner_id;
  update runner_slots set env_id = null where runner_id = old.runner_id and slot = old.slot and env_id = old.id;
  insert into runner_slots (runner_id, slot, env_id) values (new.runner_id, new.slot, new.id)
    on conflict (runner_id, slot) do update set env_id = excluded.env_id;
end;
`;

const pgTriggers = `
create function runner_capacity_track() returns trigger language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update runner_capacity set alloc_cpus = alloc_cpus - old.cpus, alloc_memory_bytes = alloc_memory_bytes - old.memory_bytes,
      alloc_disk_bytes = alloc_disk_bytes - old.disk_bytes, alloc_envs = alloc_envs - 1 where runner_id = old.runner_id;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    update runner_slots set env_id = null where runner_id = old.runner_id and slot = old.slot and env_id = old.id;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into runner_capacity (runner_id, org_id, alloc_cpus, alloc_memory_bytes, alloc_disk_bytes, alloc_envs)
      values (new.runner_id, new.org_id, new.cpus, new.memory_bytes, new.disk_bytes, 1)
      on conflict (runner_id) do update set alloc_cpus = runner_capacity.alloc_cpus + excluded.alloc_cpus,
        alloc_memory_bytes = runner_capacity.alloc_memory_bytes + excluded.alloc_memory_bytes,
        alloc_disk_bytes = runner_capacity.alloc_disk_bytes + excluded.alloc_disk_bytes,
        alloc_envs = runner_capacity.alloc_envs + 1;
    insert into runner_slots (runner_id, slot, env_id) values (new.runner_id, new.slot, new.id)
      on conflict (runner_id, slot) do update set env_id = excluded.env_id;
  end if;
  return null;
end;
$$;
create trigger runner_capacity_track after insert or delete or update of cpus, memory_bytes, disk_bytes, runner_id, slot on environments
  for each row execute function runner_capacity_track();
`;

export const fleet: Migration = {
  version: 31,
  name: "fleet",
  sql:
    common({
      json: (col) => ` check (json_valid(${col}))`,
      real: "real",
      big: "integer",
      strict: " strict",
      id: "integer primary key",
    }) + sqliteTriggers,
  pg:
    common({
      json: () => "",
      real: "double precision",
      big: "bigint",
      strict: "",
      id: "bigint generated by default as identity primary key",
    }) + pgTriggers,
};
