import type { Migration } from "./index.ts";

// Runners as the control plane last saw them (runners/hub.ts). A runner's connection lands on one
// replica; this row lets every replica know that it exists, which replica holds it and what it
// reported (capacity for admission, the images it has), so creates and lifecycle changes work on
// any replica and only the holding replica reconciles. `replica` is null while disconnected;
// `seen_at` is refreshed by a heartbeat, so a replica that died holding it goes stale.
const text = (json: string) => `
create table runners (
  id text primary key,
  org_id text not null references orgs (id) on delete cascade,
  hostname text not null,
  info text not null${json},
  image_refs text not null default '[]',
  replica text,
  seen_at text not null
);
create index runners_org on runners (org_id, seen_at);
`;

export const runners: Migration = {
  version: 14,
  name: "runners",
  sql: text(" check (json_valid(info))"),
  pg: text(""),
};
