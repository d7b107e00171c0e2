import { BOOTSTRAP_ORG_ID } from "./005_identity.ts";
import type { Migration } from "./index.ts";

// Registry logins and images belong to an organisation (issue 5).
//
// Logins are keyed by (org_id, host): two organisations may each keep their own login for the same
// registry, and a pull uses only the caller's. Logins stored before this migration were the whole
// server's, so they go to the bootstrap organisation.
//
// The runner's image store stays one cache per host (layers are shared by digest), and org_images
// records which organisation pulled or imported which reference. An image is listed, used and
// removed only through such a row, so an image pulled with one organisation's credentials is
// never handed to another without a pull of its own. The database cannot see the runner's store,
// so what existed at upgrade time is attributed here from what the environments use (to the
// bootstrap organisation, and to each environment's own organisation, which evidently uses it);
// services/images.ts treats any other image no organisation references as the bootstrap's.
// The built-in base image is shared by every organisation and never held (a literal: a shipped
// migration must not change when the constant does).
const EPOCH = "1970-01-01T00:00:00.000Z";
const BASE = "warren/debian:bookworm";
const seed = `
insert into org_images (org_id, ref, digest, created_at)
  select distinct org_id, image, null, '${EPOCH}' from environments where image <> '${BASE}'
  union
  select distinct '${BOOTSTRAP_ORG_ID}', image, null, '${EPOCH}' from environments where image <> '${BASE}';
create index org_images_ref on org_images (ref);
`;

export const orgRegistryImages: Migration = {
  version: 10,
  name: "org_registry_images",
  // SQLite cannot change a primary key in place: copy into a new table and rename it.
  sql: `
create table registry_credentials_new (
  org_id text not null references orgs (id) on delete cascade,
  host text not null check (length(host) between 1 and 255),
  username text not null,
  secret text not null,
  created_at text not null,
  updated_at text not null,
  primary key (org_id, host)
) strict;
insert into registry_credentials_new (org_id, host, username, secret, created_at, updated_at)
  select '${BOOTSTRAP_ORG_ID}', host, username, secret, created_at, updated_at from registry_credentials;
drop table registry_credentials;
alter table registry_credentials_new rename to registry_credentials;
create table org_images (
  org_id text not null references orgs (id) on delete cascade,
  ref text not null check (length(ref) between 1 and 512),
  digest text,
  created_at text not null,
  primary key (org_id, ref)
) strict;
${seed}`,
  // collate "C": refs and hosts list in byte order on both databases, whatever the cluster's locale.
  pg: `
alter table registry_credentials
  add column org_id text not null default '${BOOTSTRAP_ORG_ID}' references orgs (id) on delete cascade;
alter table registry_credentials alter column org_id drop default;
alter table registry_credentials drop constraint registry_credentials_pkey;
alter table registry_credentials add primary key (org_id, host);
create table org_images (
  org_id text not null references orgs (id) on delete cascade,
  ref text collate "C" not null check (length(ref) between 1 and 512),
  digest text,
  created_at text not null,
  primary key (org_id, ref)
);
${seed}`,
};
