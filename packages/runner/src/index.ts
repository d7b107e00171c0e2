// The runner's public surface: the engine the CLI embeds (`warren daemon`, `warren runner`), plus the
// building blocks the CLI's end-to-end tests, @warren/testing and the benches (bench/start, bench/dns,
// bench/netsetup) drive directly. Everything else in the runner stays internal.

export {
  getPresigned,
  headPresigned,
  PresignedUrlError,
  putPresigned,
  redactUrl,
} from "./blobstore/presigned-client.ts";
export { createResolver, type Resolver, type ResolverOptions } from "./dns/index.ts";
export { recordedResolverPid } from "./dns/supervisor.ts";
export { Engine } from "./engine/engine.ts";
export { createRunner } from "./engine/runner.ts";
export { claimRunnerHost } from "./host/claims.ts";
export { defaultConfig, type RunnerConfig } from "./host/config.ts";
export { checkRunnerName, hostnameLabel, parseLabels } from "./host/identity.ts";
export { recordedLxcfsPid } from "./host/lxcfs.ts";
export { type RunResult, run } from "./host/run.ts";
export {
  ensureHostNetwork,
  envAddress,
  hostIfName,
  ifGroupFor,
  networkConfig,
  removeHostNetwork,
  setupEnvNetwork,
  teardownEnvNetwork,
  teardownEnvNetworks,
} from "./network/index.ts";
export { applyNft } from "./network/nft.ts";
export { syncElements } from "./network/nft-elements.ts";
export {
  buildSpec,
  DEFAULT_CAPABILITIES,
  withDefaultMounts,
  withNamespaces,
  withProcess,
  withRootfs,
} from "./spec/index.ts";
export type { Descriptor } from "./storage/image-oci-layout.ts";
export { ImageStore } from "./storage/image-store.ts";
export type { ImageLayers } from "./storage/types.ts";
