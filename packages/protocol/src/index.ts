export * from "./api.ts";
export * from "./client.ts";
export * from "./env.ts";
export * from "./errors.ts";
export * from "./exec-stream.ts";
export * from "./paths.ts";
export * from "./runner.ts";
export * from "./size.ts";
