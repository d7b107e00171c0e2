import type { Migration } from "./index.ts";

// Environments made from a repository (`warren up --repo`):
// - environments.setup: JSON of the setup controller's state (store/queries/setups.ts): the source,
//   the phase, the merged devcontainer.json, hook runs. Null for environments made from an image.
// - environments.container_env / volumes: JSON that goes into the runner's spec at every start
//   (devcontainer.json containerEnv and named-volume mounts). Null: none.
// - uploads: a local directory's tar that `warren up --repo DIR` sent, until its clone reads it.
//   The bytes are a file under the server's root; the row says whose it is and when it goes.
const statements = (time: string) => `
alter table environments add column setup text;
alter table environments add column container_env text;
alter table environments add column volumes text;
create table uploads (
  id text primary key,
  org_id text not null,
  owner_id text not null,
  size_bytes integer not null check (size_bytes >= 0),
  created_at ${time} not null,
  expires_at ${time} not null
);
create index uploads_expires on uploads (expires_at);
`;

export const envSetup: Migration = {
  version: 25,
  name: "env_setup",
  sql: statements("text"),
  pg: statements('text collate "C"'),
};
