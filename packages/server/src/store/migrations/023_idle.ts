import type { Migration } from "./index.ts";

// Idle stop. All timeouts are whole seconds; null means "never" (no limit):
// - environments.idle_timeout_s: the owner's own setting. Environments made before this column
//   existed get null (never), so an upgrade stops nothing by surprise; new ones get the default
//   (30 minutes, within their class's and organisation's limits) from the service.
// - last_activity_*: the last terminal, SSH or signed-in HTTP use, written at most once a minute
//   (services/activity.ts) so busy terminals cost no database writes per keystroke.
// - idle_deadline: when the idle controller stops it; only ever moves forward while it runs.
// - classes.idle_timeout_s and org_quotas.max_idle_timeout_s: the longest an environment of the
//   class, or of the organisation, may stay up without activity.
const kinds = "('terminal', 'ssh', 'http')";
const seconds = (col: string) => `${col} integer check (${col} is null or ${col} > 0)`;

const statements = (time: string) => `
alter table environments add column ${seconds("idle_timeout_s")};
alter table environments add column last_activity_at ${time};
alter table environments add column last_activity_kind text check (last_activity_kind is null or last_activity_kind in ${kinds});
alter table environments add column last_activity_source text check (last_activity_source is null or length(last_activity_source) <= 200);
alter table environments add column idle_deadline ${time};
alter table classes add column ${seconds("idle_timeout_s")};
alter table org_quotas add column ${seconds("max_idle_timeout_s")};
`;

export const idle: Migration = {
  version: 23,
  name: "idle",
  sql: statements("text"),
  // Times are ISO text compared as strings: byte order, whatever the database's locale.
  pg: statements('text collate "C"'),
};
