import type { Migration } from "./index.ts";

// A user's developer identity (`warren user set`, protocol user-git.ts): the git name and email
// every environment they create from a repository is configured with, and their dotfiles
// repository. One row per user, across organisations: it is who they are, not what an
// organisation lends them. Nothing here is secret (credentials are `warren secret`s); the
// lengths mirror the protocol's limits, which the service checks first with clearer messages.
const text = `
create table user_git (
  user_id text primary key references users (id) on delete cascade,
  git_name text check (git_name is null or length(git_name) between 1 and 200),
  git_email text check (git_email is null or length(git_email) between 3 and 254),
  dotfiles text check (dotfiles is null or length(dotfiles) between 1 and 1024),
  updated_at text not null
);
`;

export const userGit: Migration = { version: 26, name: "user_git", sql: text, pg: text };
