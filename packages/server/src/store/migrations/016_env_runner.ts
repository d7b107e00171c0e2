import type { Migration } from "./index.ts";

// An environment records the runner it was admitted to, and capacity is counted per runner: each
// runner has its own id range (slots) and its own disk, so one organisation's environments must
// never use up another organisation's runner (before this, slots and reserved disk were counted
// across the whole server, and two environments in one organisation made another's create on its
// own empty runner fail with 507).
// - environments.runner_id: the runner's id (a remote runner's is its token's id; the embedded
//   daemon's in-process runner is always 'local'). Existing rows get their organisation's most
//   recently seen runner, else 'local' (embedded mode, where no runner row exists).
// - slot is unique per runner, not per server: the slot picks a uid block and an address on that
//   runner's host only.
// - runner_totals replaces migration 013's single env_totals row: the disk each runner's
//   environments reserve, kept by triggers, one row per runner (so creates on different runners
//   no longer update one shared row).
// SQLite cannot drop a column's unique constraint in place, so `environments` is rebuilt with every
// column, check, default and index it had after migrations 009 and 012 (dropping the table also
// drops 013's triggers). PostgreSQL swaps the constraint in place.
const LOCAL_RUNNER = "local"; // a literal: a shipped migration must not follow a constant

const ENV_COLUMNS = `id, name, class_name, image, runtime, cpus, memory_bytes, disk_bytes, pids, slot,
  desired, state, conditions, observed, stop_grace_ms, generation, created_at, updated_at, egress,
  org_id, owner_id, project`;

// The default is the embedded runner's id, which is what a row that names no runner has always
// meant; the server's own inserts always name one (EnvironmentsTable.runner_id is required).
const RUNNER_COLUMN = `runner_id text not null default '${LOCAL_RUNNER}' check (length(runner_id) between 1 and 200)`;

/** The organisation's current runner: the one seen last (presence heartbeats refresh seen_at). */
const BACKFILL = `coalesce((select r.id from runners r where r.org_id = e.org_id
  order by r.seen_at desc, r.id desc limit 1), '${LOCAL_RUNNER}')`;

export const envRunner: Migration = {
  version: 16,
  name: "env_runner",
  sql: `
create table environments_new (
  id text primary key check (length(id) = 12 and id not glob '*[^a-z0-9]*'),
  name text not null,
  class_name text not null,
  image text not null,
  runtime text not null,
  cpus real not null check (cpus > 0),
  memory_bytes integer not null check (memory_bytes > 0),
  disk_bytes integer not null check (disk_bytes > 0),
  pids integer not null check (pids > 0),
  slot integer not null check (slot >= 0),
  desired text not null check (desired in ('running', 'stopped', 'deleted')),
  state text not null check (state in ('pending', 'creating', 'running', 'stopping', 'stopped', 'failed', 'deleting')),
  conditions text not null default '[]',
  observed text,
  stop_grace_ms integer not null default 10000,
  generation integer not null default 1,
  created_at text not null,
  updated_at text not null,
  egress text not null default '{"mode":"all"}' check (json_valid(egress)),
  org_id text not null default 'org_default',
  owner_id text not null default 'usr_root',
  project text check (project is null or length(project) between 1 and 1024),
  ${RUNNER_COLUMN},
  unique (org_id, name),
  unique (runner_id, slot)
) strict;
insert into environments_new (${ENV_COLUMNS}, runner_id)
  select ${ENV_COLUMNS}, ${BACKFILL} from environments e;
drop table environments;
alter table environments_new rename to environments;
create index environments_org on environments (org_id);
create index environments_project on environments (project);

drop table env_totals;
create table runner_totals (
  runner_id text primary key,
  disk_bytes integer not null check (disk_bytes >= 0)
) strict;
insert into runner_totals (runner_id, disk_bytes)
  select runner_id, sum(disk_bytes) from environments group by runner_id;
create trigger runner_totals_insert after insert on environments begin
  insert or ignore into runner_totals (runner_id, disk_bytes) values (new.runner_id, 0);
  update runner_totals set disk_bytes = disk_bytes + new.disk_bytes where runner_id = new.runner_id;
end;
create trigger runner_totals_delete after delete on environments begin
  update runner_totals set disk_bytes = disk_bytes - old.disk_bytes where runner_id = old.runner_id;
end;
create trigger runner_totals_update after update of disk_bytes, runner_id on environments begin
  update runner_totals set disk_bytes = disk_bytes - old.disk_bytes where runner_id = old.runner_id;
  insert or ignore into runner_totals (runner_id, disk_bytes) values (new.runner_id, 0);
  update runner_totals set disk_bytes = disk_bytes + new.disk_bytes where runner_id = new.runner_id;
end;
`,
  // environments_slot_key is the name PostgreSQL gave 001's column constraint.
  pg: `
alter table environments add column ${RUNNER_COLUMN};
update environments e set runner_id = ${BACKFILL};
alter table environments drop constraint environments_slot_key;
alter table environments add constraint environments_runner_slot_key unique (runner_id, slot);

drop trigger env_totals_track on environments;
drop function env_totals_track();
drop table env_totals;
create table runner_totals (
  runner_id text primary key,
  disk_bytes bigint not null check (disk_bytes >= 0)
);
insert into runner_totals (runner_id, disk_bytes)
  select runner_id, sum(disk_bytes) from environments group by runner_id;
create function runner_totals_track() returns trigger language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update runner_totals set disk_bytes = disk_bytes - old.disk_bytes where runner_id = old.runner_id;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into runner_totals (runner_id, disk_bytes) values (new.runner_id, new.disk_bytes)
      on conflict (runner_id) do update set disk_bytes = runner_totals.disk_bytes + excluded.disk_bytes;
  end if;
  return null;
end;
$$;
create trigger runner_totals_track after insert or delete or update of disk_bytes, runner_id on environments
  for each row execute function runner_totals_track();
`,
};
