import type { Migration } from "./index.ts";

const GiB = 1024 ** 3;

export const init: Migration = {
  version: 1,
  name: "init",
  sql: `
create table environments (
  id text primary key check (length(id) = 12 and id not glob '*[^a-z0-9]*'),
  name text not null unique,
  class_name text not null,
  image text not null,
  runtime text not null,
  cpus real not null check (cpus > 0),
  memory_bytes integer not null check (memory_bytes > 0),
  disk_bytes integer not null check (disk_bytes > 0),
  pids integer not null check (pids > 0),
  slot integer not null unique check (slot >= 0),
  desired text not null check (desired in ('running', 'stopped', 'deleted')),
  state text not null check (state in ('pending', 'creating', 'running', 'stopping', 'stopped', 'failed', 'deleting')),
  conditions text not null default '[]',
  observed text,
  stop_grace_ms integer not null default 10000,
  generation integer not null default 1,
  created_at text not null,
  updated_at text not null
) strict;

create table classes (
  name text primary key,
  cpus real not null check (cpus > 0),
  memory_bytes integer not null check (memory_bytes > 0),
  disk_bytes integer not null check (disk_bytes > 0),
  pids integer not null check (pids > 0),
  runtime text,
  max_cpus real not null,
  max_memory_bytes integer not null,
  max_disk_bytes integer not null,
  builtin integer not null default 0,
  created_at text not null
) strict;

create table events (
  id integer primary key autoincrement,
  env_id text not null,
  at text not null,
  message text not null
) strict;
create index events_env_id on events (env_id, id);

insert into classes (name, cpus, memory_bytes, disk_bytes, pids, runtime, max_cpus, max_memory_bytes, max_disk_bytes, builtin, created_at)
values ('default', 2, ${2 * GiB}, ${10 * GiB}, 4096, null, 16, ${16 * GiB}, ${100 * GiB}, 1, '1970-01-01T00:00:00.000Z');
`,
};
