import type { Migration } from "./index.ts";

// Token scopes: a space-separated list, as OAuth writes them (protocol identity.ts TOKEN_SCOPES).
// The empty string, the default for every existing token, means full user access; a scoped token
// may do only what its scopes allow (http/auth.ts), e.g. `metrics:read` reads /metrics and
// nothing else. The service validates names first with a clearer message; the check bounds size.
const text = `
alter table api_tokens add column scopes text not null default '' check (length(scopes) <= 512);
`;

export const tokenScopes: Migration = { version: 28, name: "token_scopes", sql: text, pg: text };
