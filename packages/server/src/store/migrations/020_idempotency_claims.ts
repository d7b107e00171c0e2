import type { Migration } from "./index.ts";

// An in-flight Idempotency-Key claim names who holds it, so a claim whose holder died can be taken
// over instead of answering IDEMPOTENCY_CONFLICT for the 24 hours a key lives (http/idempotency.ts):
// - claimed_by: the server instance (a random id per start) running the request;
// - lease_until: until when the claim counts as alive without news; the holder extends it while the
//   request runs, so with several replicas a claim whose lease ran out belonged to a dead one.
// Rows from before have neither and are treated as held by an instance that is gone.
const text = `
alter table idempotency_keys add column claimed_by text;
alter table idempotency_keys add column lease_until text;
`;

export const idempotencyClaims: Migration = { version: 20, name: "idempotency_claims", sql: text, pg: text };
