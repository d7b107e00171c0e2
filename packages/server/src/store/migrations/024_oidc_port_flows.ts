import type { Migration } from "./index.ts";

// OIDC sign-ins started at a port URL (http/routes-port-oidc.ts): the flow row names the
// environment and port it signs in to, so the callback works out the port URL from the row and
// never from anything the browser sends back. Both null for every other sign-in.
const text = `
alter table oidc_flows add column port_env_id text;
alter table oidc_flows add column port integer check (port is null or port between 1 and 65535);
`;

export const oidcPortFlows: Migration = { version: 24, name: "oidc_port_flows", sql: text, pg: text };
