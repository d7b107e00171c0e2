import type { Migration } from "./index.ts";

// SSH keys for the gateway:
// - ssh_keys: the public keys users log in with. A key belongs to one user in the organisation it
//   was added in; the same key may be registered by two users (public keys are public, and
//   possession of the private key is what the gateway checks), but only once per user.
// - ssh_host_keys: the gateway's own host key, one row ('gateway') so every replica and restart
//   presents the same key. The private key is stored only sealed under the secrets key
//   (services/ssh-host-key.ts); `warren admin rotate-key` re-encrypts it with the other secrets.
//
// Portable text, like the identity tables: the same statements serve SQLite and PostgreSQL.
const text = `
create table ssh_keys (
  id text primary key,
  org_id text not null references orgs (id) on delete cascade,
  user_id text not null references users (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  type text not null,
  fingerprint text not null check (substr(fingerprint, 1, 7) = 'SHA256:'),
  public_key text not null,
  created_at text not null,
  unique (user_id, fingerprint)
);
create index ssh_keys_org on ssh_keys (org_id);
create index ssh_keys_fingerprint on ssh_keys (fingerprint);
create table ssh_host_keys (
  id text primary key check (id = 'gateway'),
  type text not null,
  public_key text not null,
  fingerprint text not null,
  secret text not null,
  created_at text not null
);
`;

export const sshKeys: Migration = { version: 21, name: "ssh_keys", sql: text, pg: text };
