import type { Migration } from "./index.ts";

// Registry logins for pulls. The password is stored only as AES-256-GCM ciphertext under a key
// kept in a root-only file outside the database (services/registry-secrets.ts), so a copied
// database or backup alone does not reveal it. One login per registry host for now; the teams
// work will scope logins per organisation (a new key column, not a new table).
export const registryCredentials: Migration = {
  version: 4,
  name: "registry_credentials",
  sql: `
create table registry_credentials (
  host text primary key check (length(host) between 1 and 255),
  username text not null,
  secret text not null,
  created_at text not null,
  updated_at text not null
) strict;
`,
  // collate "C": hosts are listed in byte order on both databases, whatever the cluster's locale.
  pg: `
create table registry_credentials (
  host text collate "C" primary key check (length(host) between 1 and 255),
  username text not null,
  secret text not null,
  created_at text not null,
  updated_at text not null
);
`,
};
