import type { Migration } from "./index.ts";

// The user an environment's processes run as (`warren up --user NAME`, protocol env-user.ts): it
// owns the workspace folder, can read the secrets, and is whom exec and shell land as.
// Every environment made before this ran as root, which is the default. The check mirrors
// ENV_USER_RE's length; the service checks the characters before a row exists.
const COLUMN = "user_name text not null default 'root' check (length(user_name) between 1 and 32)";

export const envUser: Migration = {
  version: 19,
  name: "env_user",
  sql: `alter table environments add column ${COLUMN};`,
  pg: `alter table environments add column ${COLUMN.replace("text", 'text collate "C"')};`,
};
