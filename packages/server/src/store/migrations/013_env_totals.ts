import type { Migration } from "./index.ts";

// The disk every environment reserves, kept as one running total by triggers instead of a
// sum over every row at each create's admission (bench/api: that scan grew with the number of
// environments and cost 5% of a create at 3,000). Insert and delete are the only changes to
// disk_bytes today (a resize never changes disk), but updates are covered too.
// A migration that rebuilds `environments` (as 009 does on SQLite) must recreate these triggers.
export const envTotals: Migration = {
  version: 13,
  name: "env_totals",
  sql: `
create table env_totals (
  id integer primary key check (id = 1),
  disk_bytes integer not null check (disk_bytes >= 0)
) strict;
insert into env_totals (id, disk_bytes) select 1, coalesce(sum(disk_bytes), 0) from environments;
create trigger env_totals_insert after insert on environments begin
  update env_totals set disk_bytes = disk_bytes + new.disk_bytes where id = 1;
end;
create trigger env_totals_delete after delete on environments begin
  update env_totals set disk_bytes = disk_bytes - old.disk_bytes where id = 1;
end;
create trigger env_totals_update after update of disk_bytes on environments begin
  update env_totals set disk_bytes = disk_bytes - old.disk_bytes + new.disk_bytes where id = 1;
end;
`,
  pg: `
create table env_totals (
  id integer primary key check (id = 1),
  disk_bytes bigint not null check (disk_bytes >= 0)
);
insert into env_totals (id, disk_bytes) select 1, coalesce(sum(disk_bytes), 0) from environments;
create function env_totals_track() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    update env_totals set disk_bytes = disk_bytes + new.disk_bytes where id = 1;
  elsif tg_op = 'DELETE' then
    update env_totals set disk_bytes = disk_bytes - old.disk_bytes where id = 1;
  else
    update env_totals set disk_bytes = disk_bytes - old.disk_bytes + new.disk_bytes where id = 1;
  end if;
  return null;
end;
$$;
create trigger env_totals_track after insert or delete or update of disk_bytes on environments
  for each row execute function env_totals_track();
`,
};
