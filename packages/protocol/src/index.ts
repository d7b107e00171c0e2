// The protocol's public surface: everything every other package may import. Two separate entries
// keep start-up cheap: `@warren/protocol/runner-validate` (TypeBox validators, loaded lazily) and
// `@warren/protocol/streams` (the HTTP/2 byte-stream transport).
export * from "./api.ts";
export * from "./audit.ts";
export * from "./client.ts";
export * from "./client-port-forward.ts";
export * from "./client-retry.ts";
export * from "./client-watch.ts";
export * from "./egress.ts";
export * from "./env.ts";
export * from "./env-user.ts";
export * from "./errors.ts";
export * from "./exec-options.ts";
export * from "./exec-stream.ts";
export * from "./failpoint.ts";
export * from "./fingerprint.ts";
export * from "./flow-control.ts";
export * from "./identity.ts";
export * from "./image-ref.ts";
export * from "./paths.ts";
export * from "./port-forward-stream.ts";
export * from "./process-faults.ts";
export * from "./project.ts";
export * from "./resource-limits.ts";
export * from "./runner.ts";
export * from "./runner-connect.ts";
export * from "./runner-reconnect.ts";
export * from "./runner-serve.ts";
export * from "./runner-wire.ts";
export * from "./secrets.ts";
export * from "./session-close.ts";
export * from "./size.ts";
export * from "./ssh-keys.ts";
export * from "./version.ts";
export * from "./watch.ts";
export * from "./ws-heartbeat.ts";
