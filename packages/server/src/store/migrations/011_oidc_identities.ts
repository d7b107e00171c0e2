import type { Migration } from "./index.ts";

// OIDC sign-in state that every server replica must see (services/oidc.ts).
//
// oidc_identities: an identity provider's account is (issuer, subject), never its email, which
// the provider lets people change and re-assigns to others. The email is kept only to show.
//
// oidc_flows and device_codes: sign-ins in progress, one row each, deleted when used or when
// `expires_at` (ISO-8601 UTC text, compared as a string like every timestamp here) has passed.
// What is only ever compared is stored as a SHA-256 hex digest: the state, the nonce and the
// device code. The PKCE verifier has to be sent to the provider, so it is kept as is; alone it is
// worthless (the provider also wants the authorization code, which never reaches the database).
// The user code stays readable: a person types it, and eight letters would not survive a
// dictionary of 20^8 digests anyway; alone it only lets a browser approve a terminal's sign-in.
// A device code that has been approved in a browser names the user and organisation; the Warren
// token is minted only when the terminal redeems it, so no token ever rests here.
const text = (strict: string) => `
create table oidc_identities (
  issuer text not null check (length(issuer) between 1 and 1000),
  subject text not null check (length(subject) between 1 and 255),
  user_id text not null references users (id) on delete cascade,
  email text,
  created_at text not null,
  last_sign_in_at text not null,
  primary key (issuer, subject)
)${strict};
create index oidc_identities_user on oidc_identities (user_id);
create table oidc_flows (
  state_hash text primary key,
  verifier text not null,
  nonce_hash text not null,
  user_code text,
  created_at text not null,
  expires_at text not null
)${strict};
create index oidc_flows_expires on oidc_flows (expires_at);
create table device_codes (
  code_hash text primary key,
  user_code text not null unique,
  interval_s integer not null check (interval_s > 0),
  last_poll_at text,
  approved_user_id text references users (id) on delete cascade,
  approved_org_id text references orgs (id) on delete cascade,
  created_at text not null,
  expires_at text not null,
  check ((approved_user_id is null) = (approved_org_id is null))
)${strict};
create index device_codes_expires on device_codes (expires_at);
`;

export const oidcIdentities: Migration = {
  version: 11,
  name: "oidc_identities",
  sql: text(" strict"),
  pg: text(""),
};
