// The multiplexed byte-stream transport (HTTP/2 over the runner WebSocket). A separate entry,
// `@warren/protocol/streams`, so the CLI's start-up never loads node:http2.
export * from "./stream-client.ts";
export * from "./stream-headers.ts";
export * from "./stream-server.ts";
export * from "./stream-settings.ts";
