import type { Migration } from "./index.ts";

// Issue 5: "tokens expire by default after 30 days (admins set the maximum)". An organisation's
// admins may lower the longest lifetime of its tokens below the server's (WARREN_TOKEN_MAX_DAYS);
// null keeps the server's. Kept with the organisation's other limits.
const text =
  "alter table org_quotas add column token_max_days integer check (token_max_days is null or token_max_days >= 1);";

export const tokenMaxDays: Migration = { version: 15, name: "token_max_days", sql: text, pg: text };
