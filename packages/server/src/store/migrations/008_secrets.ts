import type { Migration } from "./index.ts";

// Secrets for environments (services/secrets.ts). The value is stored only as AES-256-GCM
// ciphertext under `${root}/keys/secrets.key`, a root-only file outside the database, with the
// row's identity bound in as associated data. `owner` is "" for an organisation secret, the user
// id for a user secret and the repository URL for a project secret.
const table = (strict: string, collate: string) => `
create table secrets (
  org_id text not null references orgs (id) on delete cascade,
  scope text not null check (scope in ('org', 'user', 'project')),
  owner text${collate} not null,
  name text${collate} not null check (length(name) between 1 and 128),
  kind text not null check (kind in ('env', 'file')),
  path text,
  secret text not null,
  created_by text not null,
  created_at text not null,
  updated_at text not null,
  primary key (org_id, scope, owner, name)
)${strict};
`;

export const secrets: Migration = {
  version: 8,
  name: "secrets",
  sql: table(" strict", ""),
  pg: table("", ' collate "C"'),
};
