import type { Migration } from "./index.ts";

// Usage accounting (services/usage.ts). Each row is an interval during which one environment held
// one allocation for one owner:
// - kind 'run': while the control plane's own record says it runs (state = 'running'), with the
//   cpus and memory it was allocated: environment-seconds, CPU-seconds and memory GiB-hours.
// - kind 'disk': while it exists, running or not, with its reserved disk: disk GiB-hours.
// Triggers on `environments` open and close them in the same transaction as the state change, so
// every path that writes state (the reconciler, a failure, a resize, a class change, a delete) is
// recorded and a crash cannot leave the two apart; a control-plane restart leaves open intervals
// open, and they run on until a state change closes them. Times are the row's own updated_at
// (created_at on insert), written from the control plane's injected clock, as epoch milliseconds.
// A change of allocation or owner while it runs closes the interval and opens the next.
// measured_cpu_ms / measured_at_ms: CPU the runner reported, sampled (controllers/usage/); shown
// beside the allocation, never billed.
// A migration that rebuilds `environments` (as 009 does on SQLite) must recreate these triggers.

const runChanged = `((old.state = 'running') <> (new.state = 'running') or (new.state = 'running' and (
  old.cpus <> new.cpus or old.memory_bytes <> new.memory_bytes or old.class_name <> new.class_name
  or old.org_id <> new.org_id or old.owner_id <> new.owner_id or old.project IS DISTINCT FROM new.project)))`;
const diskChanged = `(old.disk_bytes <> new.disk_bytes or old.class_name <> new.class_name
  or old.org_id <> new.org_id or old.owner_id <> new.owner_id or old.project IS DISTINCT FROM new.project)`;
const columns =
  "env_id, env_name, org_id, owner_id, project, class_name, kind, cpus, memory_bytes, disk_bytes, started_ms";
const values = (r: "new" | "e", kind: "run" | "disk", t: string) =>
  `${r}.id, ${r}.name, ${r}.org_id, ${r}.owner_id, ${r}.project, ${r}.class_name, '${kind}', ${r}.cpus, ${r}.memory_bytes, ${r}.disk_bytes, ${t}`;

const table = (id: string, text: string, big: string, real: string) => `
create table usage_intervals (
  id ${id},
  env_id ${text} not null,
  env_name ${text} not null,
  org_id ${text} not null,
  owner_id ${text} not null,
  project ${text},
  class_name ${text} not null,
  kind ${text} not null check (kind in ('run', 'disk')),
  cpus ${real} not null check (cpus > 0),
  memory_bytes ${big} not null check (memory_bytes >= 0),
  disk_bytes ${big} not null check (disk_bytes >= 0),
  started_ms ${big} not null,
  ended_ms ${big} check (ended_ms is null or ended_ms >= started_ms),
  measured_cpu_ms ${big} not null default 0 check (measured_cpu_ms >= 0),
  measured_at_ms ${big}
)`;
const indexes = `
create index usage_intervals_open on usage_intervals (env_id) where ended_ms is null;
create index usage_intervals_org on usage_intervals (org_id, started_ms);
`;

// SQLite: unixepoch() with 'subsec' keeps milliseconds; a time it cannot read falls back to the
// database's clock rather than failing the state change it rides on.
const sqliteMs = (col: string) =>
  `coalesce(cast(round(unixepoch(${col}, 'subsec') * 1000) as integer), cast(round(unixepoch('now', 'subsec') * 1000) as integer))`;
const sqliteClose = (env: string, t: string, kind?: string) =>
  `update usage_intervals set ended_ms = max(started_ms, ${t})
    where env_id = ${env}.id and ended_ms is null${kind ? ` and kind = '${kind}'` : ""}`;

const sql = `
${table("integer primary key autoincrement", "text", "integer", "real")} strict;
${indexes}
insert into usage_intervals (${columns})
  select ${values("e", "disk", sqliteMs("e.created_at"))} from environments e;
insert into usage_intervals (${columns})
  select ${values("e", "run", sqliteMs("e.updated_at"))} from environments e where e.state = 'running';
create trigger usage_env_insert after insert on environments begin
  insert into usage_intervals (${columns}) select ${values("new", "disk", sqliteMs("new.created_at"))};
  insert into usage_intervals (${columns}) select ${values("new", "run", sqliteMs("new.created_at"))}
    where new.state = 'running';
end;
create trigger usage_env_update
  after update of state, cpus, memory_bytes, disk_bytes, class_name, org_id, owner_id, project on environments
begin
  ${sqliteClose("new", sqliteMs("new.updated_at"), "run")} and ${runChanged};
  insert into usage_intervals (${columns}) select ${values("new", "run", sqliteMs("new.updated_at"))}
    where new.state = 'running' and ${runChanged};
  ${sqliteClose("new", sqliteMs("new.updated_at"), "disk")} and ${diskChanged};
  insert into usage_intervals (${columns}) select ${values("new", "disk", sqliteMs("new.updated_at"))}
    where ${diskChanged};
end;
create trigger usage_env_delete after delete on environments begin
  ${sqliteClose("old", sqliteMs("old.updated_at"))};
end;
`.replaceAll("IS DISTINCT FROM", "IS NOT");

const pg = `
${table("bigint generated by default as identity primary key", 'text collate "C"', "bigint", "double precision")};
${indexes}
create function usage_ms(t text) returns bigint language plpgsql stable as $$
begin
  return round(extract(epoch from t::timestamptz) * 1000)::bigint;
exception when others then
  return round(extract(epoch from clock_timestamp()) * 1000)::bigint;
end;
$$;
insert into usage_intervals (${columns})
  select ${values("e", "disk", "usage_ms(e.created_at)")} from environments e;
insert into usage_intervals (${columns})
  select ${values("e", "run", "usage_ms(e.updated_at)")} from environments e where e.state = 'running';
create function usage_track() returns trigger language plpgsql as $$
declare t bigint;
begin
  if tg_op = 'INSERT' then
    t := usage_ms(new.created_at);
    insert into usage_intervals (${columns}) values (${values("new", "disk", "t")});
    if new.state = 'running' then
      insert into usage_intervals (${columns}) values (${values("new", "run", "t")});
    end if;
  elsif tg_op = 'DELETE' then
    t := usage_ms(old.updated_at);
    update usage_intervals set ended_ms = greatest(started_ms, t) where env_id = old.id and ended_ms is null;
  else
    t := usage_ms(new.updated_at);
    if ${runChanged} then
      update usage_intervals set ended_ms = greatest(started_ms, t)
        where env_id = new.id and ended_ms is null and kind = 'run';
      if new.state = 'running' then
        insert into usage_intervals (${columns}) values (${values("new", "run", "t")});
      end if;
    end if;
    if ${diskChanged} then
      update usage_intervals set ended_ms = greatest(started_ms, t)
        where env_id = new.id and ended_ms is null and kind = 'disk';
      insert into usage_intervals (${columns}) values (${values("new", "disk", "t")});
    end if;
  end if;
  return null;
end;
$$;
create trigger usage_track after insert or delete
  or update of state, cpus, memory_bytes, disk_bytes, class_name, org_id, owner_id, project on environments
  for each row execute function usage_track();
`;

export const usage: Migration = { version: 29, name: "usage", sql, pg };
