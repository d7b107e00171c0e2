import type { Migration } from "./index.ts";

// Relays between replicas (server/src/relay/): live calls for an environment whose runner another
// replica holds are forwarded to that replica over an internal listener with mutual TLS.
// - relay_ca: the cluster's certificate authority, one row ('cluster') made by the first replica
//   that starts with relays on. Its private key is stored only sealed under the secrets key (the
//   same box as environment secrets), bound to the row by associated data; `warren admin
//   rotate-key` re-seals it. Replicas share the secrets key, so each can issue itself a leaf.
// - replicas: each running replica's internal listener (the URL the others dial) and the
//   certificate it presents there, whose fingerprint a relaying replica pins; seen_at is its
//   heartbeat, so a dead replica's row is ignored once stale and pruned later.
const text = `
create table relay_ca (
  id text primary key check (id = 'cluster'),
  cert_pem text not null check (length(cert_pem) between 1 and 16384),
  fingerprint text not null,
  secret text not null,
  created_at text not null
);
create table replicas (
  id text primary key check (length(id) between 1 and 64),
  internal_url text not null check (length(internal_url) between 1 and 512),
  cert_fingerprint text not null,
  cert_pem text not null check (length(cert_pem) between 1 and 16384),
  started_at text not null,
  seen_at text not null
);
create index replicas_seen on replicas (seen_at);
`;

export const relay: Migration = { version: 33, name: "relay", sql: text, pg: text };
