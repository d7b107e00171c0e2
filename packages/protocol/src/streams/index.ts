// The multiplexed byte-stream transport (HTTP/2 over the runner WebSocket) and the runner link
// built on it. A separate entry, `@warren/protocol/streams`, so the CLI's start-up never loads
// node:http2.
export * from "./control-conn.ts";
export * from "./dial-stream.ts";
export * from "./exec-client.ts";
export * from "./exec-frames.ts";
export * from "./exec-server.ts";
export * from "./runner-link.ts";
export * from "./stream-client.ts";
export * from "./stream-headers.ts";
export * from "./stream-server.ts";
export * from "./stream-settings.ts";
