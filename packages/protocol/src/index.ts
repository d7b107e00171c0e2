export * from "./env.ts";
export * from "./errors.ts";
export * from "./exec-stream.ts";
export * from "./runner.ts";
export * from "./size.ts";
export * from "./paths.ts";
export * from "./api.ts";
