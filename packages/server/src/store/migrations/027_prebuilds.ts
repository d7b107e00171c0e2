import type { Migration } from "./index.ts";

// Prebuilds (services/prebuilds.ts): one row per (organisation, repository, branch). A run makes a
// prebuild environment (env_id while it exists), and when its create-time hooks are done its disk
// is saved on its runner (runner_id) as the disk template template_key, which `warren up --repo`
// starts from. `setup` is the JSON an environment made from it starts with (merged configuration,
// image, user, workspace folder). `every_s`/`next_run_at`: the schedule, if any.
const statements = (id: string) => `
create table prebuilds (
  id ${id} primary key,
  org_id ${id} not null,
  owner_id text not null,
  repo text not null check (length(repo) between 1 and 1024),
  url text not null check (length(url) between 1 and 1024),
  branch text not null check (length(branch) <= 255),
  devcontainer_path text,
  state text not null check (state in ('pending', 'building', 'ready', 'failed')),
  message text,
  env_id text,
  runner_id text,
  template_key text,
  config_digest text,
  commit_sha text,
  image text,
  setup text,
  every_s integer check (every_s is null or every_s >= 600),
  next_run_at text,
  built_at text,
  created_at text not null,
  updated_at text not null,
  unique (org_id, repo, branch)
);
create index prebuilds_env on prebuilds (env_id);
`;

export const prebuilds: Migration = {
  version: 27,
  name: "prebuilds",
  sql: statements("text"),
  pg: statements('text collate "C"'),
};
