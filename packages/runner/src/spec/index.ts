// OCI runtime spec builder: buildSpec(...options) and the with*() options.
export * from "./build.ts";
export * from "./capabilities.ts";
export * from "./cgroups.ts";
export * from "./defaults.ts";
export * from "./host-limits.ts";
export * from "./mounts.ts";
export * from "./namespaces.ts";
export * from "./process.ts";
export * from "./seccomp.ts";
export * from "./seccomp-default.ts";
export * from "./types.ts";
export * from "./write.ts";
