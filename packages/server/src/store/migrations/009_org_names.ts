import type { Migration } from "./index.ts";

// Environment and class names are unique per organisation, not per server (issue 5): two
// organisations may each have an environment `dev` and a class `big`.
// - environments: unique (org_id, name). Ids stay globally unique, and every host object is
//   named from the id (runner host/names.ts), so two `dev`s never meet on a host.
// - classes: primary key (org_id, name). Built-in classes (builtin = 1, kept under the bootstrap
//   organisation) are shared by every organisation, and services/classes.ts refuses a class whose
//   name is a built-in's, so a name an environment records resolves to one class in its org.
//   The database cannot express "unique among my org's and the built-ins" in one constraint; a
//   built-in added later under a name an org already uses would be shadowed in that org by the
//   org's own (queries/classes.ts prefers it), never the other way round.
//
// SQLite cannot drop a column's unique constraint or change a primary key in place, so both
// tables are rebuilt with every column (in the same order, later ones last as ALTER TABLE left
// them), check constraint, default and index they had after migrations 001, 002 and 005. No
// foreign key refers to either table. PostgreSQL swaps the constraints in place.
const BOOTSTRAP_ORG_ID = "org_default"; // literals: a shipped migration must not follow a constant
const BOOTSTRAP_OWNER_ID = "usr_root";

const ENV_COLUMNS = `id, name, class_name, image, runtime, cpus, memory_bytes, disk_bytes, pids, slot,
  desired, state, conditions, observed, stop_grace_ms, generation, created_at, updated_at, egress,
  org_id, owner_id`;

const CLASS_COLUMNS = `name, cpus, memory_bytes, disk_bytes, pids, runtime, max_cpus, max_memory_bytes,
  max_disk_bytes, builtin, created_at, egress, org_id`;

export const orgNames: Migration = {
  version: 9,
  name: "org_names",
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
  slot integer not null unique check (slot >= 0),
  desired text not null check (desired in ('running', 'stopped', 'deleted')),
  state text not null check (state in ('pending', 'creating', 'running', 'stopping', 'stopped', 'failed', 'deleting')),
  conditions text not null default '[]',
  observed text,
  stop_grace_ms integer not null default 10000,
  generation integer not null default 1,
  created_at text not null,
  updated_at text not null,
  egress text not null default '{"mode":"all"}' check (json_valid(egress)),
  org_id text not null default '${BOOTSTRAP_ORG_ID}',
  owner_id text not null default '${BOOTSTRAP_OWNER_ID}',
  unique (org_id, name)
) strict;
insert into environments_new (${ENV_COLUMNS}) select ${ENV_COLUMNS} from environments;
drop table environments;
alter table environments_new rename to environments;
create index environments_org on environments (org_id);

create table classes_new (
  name text not null,
  cpus real not null check (cpus > 0),
  memory_bytes integer not null check (memory_bytes > 0),
  disk_bytes integer not null check (disk_bytes > 0),
  pids integer not null check (pids > 0),
  runtime text,
  max_cpus real not null,
  max_memory_bytes integer not null,
  max_disk_bytes integer not null,
  builtin integer not null default 0,
  created_at text not null,
  egress text not null default '{"mode":"all"}' check (json_valid(egress)),
  org_id text not null default '${BOOTSTRAP_ORG_ID}',
  primary key (org_id, name)
) strict;
insert into classes_new (${CLASS_COLUMNS}) select ${CLASS_COLUMNS} from classes;
drop table classes;
alter table classes_new rename to classes;
`,
  // environments_name_key and classes_pkey are the names PostgreSQL gave 001's constraints.
  pg: `
alter table environments drop constraint environments_name_key;
alter table environments add constraint environments_org_name_key unique (org_id, name);
alter table classes drop constraint classes_pkey;
alter table classes add primary key (org_id, name);
`,
};
