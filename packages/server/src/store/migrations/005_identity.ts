import type { Migration } from "./index.ts";

// Identity and access: organisations, users, their roles, and API tokens (personal and runner).
// The bootstrap organisation and its owner are created here, with fixed ids, so that every row
// that existed before this migration can be assigned to them in the same transaction, and so a
// second start never creates a second owner (the insert is part of a migration applied once).
//
// The text is portable on purpose (plain text/integer/bigint columns, no STRICT, no GLOB, no
// dialect functions), so the same statements serve SQLite and PostgreSQL. Expiry and revocation
// are ISO-8601 UTC text like every other timestamp in the store, so they compare as strings.
export const BOOTSTRAP_ORG_ID = "org_default";
export const BOOTSTRAP_OWNER_ID = "usr_root";

const text = `
create table orgs (
  id text primary key,
  name text not null unique check (length(name) between 1 and 63),
  created_at text not null
);
create table users (
  id text primary key,
  name text not null unique check (length(name) between 1 and 200),
  created_at text not null
);
create table memberships (
  org_id text not null references orgs (id) on delete cascade,
  user_id text not null references users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  created_at text not null,
  primary key (org_id, user_id)
);
create table api_tokens (
  id text primary key,
  kind text not null check (kind in ('user', 'runner')),
  name text not null check (length(name) between 1 and 200),
  hash text not null unique,
  org_id text not null references orgs (id) on delete cascade,
  user_id text references users (id) on delete cascade,
  created_by text not null,
  created_at text not null,
  expires_at text not null,
  revoked_at text,
  check ((kind = 'user') = (user_id is not null))
);
create index api_tokens_user on api_tokens (user_id);
insert into orgs (id, name, created_at) values ('${BOOTSTRAP_ORG_ID}', 'default', '1970-01-01T00:00:00.000Z');
insert into users (id, name, created_at) values ('${BOOTSTRAP_OWNER_ID}', 'root', '1970-01-01T00:00:00.000Z');
insert into memberships (org_id, user_id, role, created_at)
  values ('${BOOTSTRAP_ORG_ID}', '${BOOTSTRAP_OWNER_ID}', 'owner', '1970-01-01T00:00:00.000Z');
alter table environments add column org_id text not null default '${BOOTSTRAP_ORG_ID}';
alter table environments add column owner_id text not null default '${BOOTSTRAP_OWNER_ID}';
alter table classes add column org_id text not null default '${BOOTSTRAP_ORG_ID}';
create index environments_org on environments (org_id);
`;

export const identity: Migration = { version: 5, name: "identity", sql: text, pg: text };
