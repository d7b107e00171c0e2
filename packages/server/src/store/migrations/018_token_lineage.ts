import type { Migration } from "./index.ts";

// Token lineage and project secrets restricted to named users or roles.
// - api_tokens.parent_id: the token a token was created with (null when it was made on the local
//   socket, at sign-in, or before this migration). Revoking a token revokes every token below it,
//   and a token may not create one that outlives it (services/identity.ts). Indexed, because a
//   revocation walks the children of each revoked token.
// - secrets.allowed: for project secrets only, a JSON array of "user:<user id>" and "role:<role>"
//   entries; only an environment whose owner matches one of them receives the secret. Null keeps
//   the default: every member who names the project's URL gets it (services/secrets.ts).
const text = `
alter table api_tokens add column parent_id text;
create index api_tokens_parent on api_tokens (parent_id);
alter table secrets add column allowed text check (allowed is null or (scope = 'project' and length(allowed) <= 8192));
`;

export const tokenLineage: Migration = { version: 18, name: "token_lineage", sql: text, pg: text };
