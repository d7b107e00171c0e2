import type { Migration } from "./index.ts";

// Egress policy per class, and a copy on each environment made when it is created: the
// environment's policy is part of its durable desired state, so the reconciler never needs the
// class row to know what to enforce, and a policy can never fall back to "all" because a
// lookup failed. Existing rows get "all", which is what they ran with before this column.
export const egress: Migration = {
  version: 2,
  name: "egress",
  sql: `
alter table classes add column egress text not null default '{"mode":"all"}' check (json_valid(egress));
alter table environments add column egress text not null default '{"mode":"all"}' check (json_valid(egress));
`,
  // PostgreSQL has no json_valid before 16's IS JSON; a cast to jsonb raises on bad JSON, which
  // refuses the write just as the SQLite check does.
  pg: `
alter table classes add column egress text not null default '{"mode":"all"}' check (egress::jsonb is not null);
alter table environments add column egress text not null default '{"mode":"all"}' check (egress::jsonb is not null);
`,
};
