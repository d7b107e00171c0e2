import type { Migration } from "./index.ts";

// Port visibility for the port proxy:
// - env_ports: one row per environment port whose visibility someone set. A port without a row is
//   private (the owner only), so nothing is shared until its owner says so. Rows go with their
//   environment. `updated_by` names who set it (a user id or "local-root"), for `port ls` and audit.
// - org_quotas.public_ports: whether the organisation allows public ports at all; null (and a
//   missing row) means deny, so no port is public until an admin allows it.
const statements = (envId: string) => `
create table env_ports (
  env_id ${envId} not null references environments (id) on delete cascade,
  port integer not null check (port between 1 and 65535),
  visibility text not null check (visibility in ('private', 'org', 'public')),
  updated_at text not null,
  updated_by text not null,
  primary key (env_id, port)
);
alter table org_quotas add column public_ports text check (public_ports is null or public_ports in ('allow', 'deny'));
`;

export const ports: Migration = {
  version: 22,
  name: "ports",
  sql: statements("text"),
  // Ids compare as bytes, like environments.id.
  pg: statements('text collate "C"'),
};
