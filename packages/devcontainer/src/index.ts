// @warren/devcontainer: devcontainer.json (containers.dev) read, merged and checked. Pure code: no
// I/O, no processes. The setup controller and `warren devcontainer read-config` call it.

export * from "./automations.ts";
export { pickClassFor } from "./class-pick.ts";
export { configFolder, findDevcontainerConfigs } from "./discover.ts";
export { parseFeatureMetadata } from "./feature-metadata.ts";
export { featureOptionEnvName, featureOptions } from "./feature-options.ts";
export { featureKey, missingDependencies, orderFeatures } from "./feature-order.ts";
export { imageMetadata } from "./image-metadata.ts";
export { type ImageSource, imageSource, repoPath } from "./image-source.ts";
export { describeCommand, lifecycleCommands, waitFor } from "./lifecycle.ts";
export { type FeatureContributions, featureContributions, mergeConfiguration, parseBytes } from "./merge.ts";
export { type ParsedMount, parseMount, volumeMounts } from "./mounts.ts";
export { IGNORED_PROPERTIES, parseDevcontainer } from "./parse.ts";
export { checkPolicy, DEFAULT_CAPABILITIES } from "./policy.ts";
export { type ForwardedPort, forwardedPorts } from "./ports.ts";
export * from "./types.ts";
export { devcontainerId, localEnvNames, type SubstitutionVars, substituteVariables } from "./variables.ts";
