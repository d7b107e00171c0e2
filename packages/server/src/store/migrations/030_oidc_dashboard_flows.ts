import type { Migration } from "./index.ts";

// OIDC sign-ins started at the dashboard (`/auth/oidc` on the control-plane host): the flow row
// names the dashboard host it signs in to, worked out by the server when the flow starts, so the
// callback issues its one-time dashboard code for that host and never for one the browser names.
// Null for every other sign-in.
const text = `
alter table oidc_flows add column dashboard_host text check (dashboard_host is null or length(dashboard_host) <= 300);
`;

export const oidcDashboardFlows: Migration = {
  version: 30,
  name: "oidc_dashboard_flows",
  sql: text,
  pg: text,
};
