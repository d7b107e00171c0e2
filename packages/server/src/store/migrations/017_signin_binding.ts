import type { Migration } from "./index.ts";

// Sign-ins bound to the browser and device codes that say who asked (services/oidc.ts).
// - oidc_flows.browser_hash: SHA-256 hex of a random value kept in a cookie of the browser that
//   started the flow; the provider's redirect is accepted only with it, so a callback URL that
//   leaks (a shared screen, a log, a phishing relay) cannot be finished in another browser.
//   Null on rows made before this migration, which therefore can no longer finish: sign-ins in
//   progress last ten minutes, so an upgrade costs at most a restarted sign-in.
// - device_codes.client and requested_from: the User-Agent and source address of the terminal's
//   POST /auth/device, shown on the page that asks the person to confirm before signing in, so
//   a code sent to them by someone else looks like what it is.
const text = `
alter table oidc_flows add column browser_hash text;
alter table device_codes add column client text check (client is null or length(client) <= 200);
alter table device_codes add column requested_from text check (requested_from is null or length(requested_from) <= 100);
`;

export const signinBinding: Migration = { version: 17, name: "signin_binding", sql: text, pg: text };
