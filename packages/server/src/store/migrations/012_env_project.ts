import type { Migration } from "./index.ts";

// The repository an environment works on (protocol project.ts), so project secrets can reach it
// (services/secret-delivery.ts). Stored in normalizeProject()'s form, the same form a project
// secret's `owner` is matched against. Null for an environment without a project, which is what
// every environment before this migration is. Indexed for `GET /environments?project=`.
// PostgreSQL compares it byte-wise (collate "C"), as SQLite does and as secrets.owner is.
const LENGTH = "check (project is null or length(project) between 1 and 1024)";

export const envProject: Migration = {
  version: 12,
  name: "env_project",
  sql: `
alter table environments add column project text ${LENGTH};
create index environments_project on environments (project);
`,
  pg: `
alter table environments add column project text collate "C" ${LENGTH};
create index environments_project on environments (project);
`,
};
