// The shapes of devcontainer.json (containers.dev), an image's devcontainer.metadata label, and the
// merged configuration. Property names and merge results follow the reference implementation
// (@devcontainers/cli) so the two can be compared property by property.
import type { LifecycleCommand, LifecycleHookName } from "@warren/protocol";

export type { LifecycleCommand, LifecycleHookName };

export type WaitFor =
  | "initializeCommand"
  | "onCreateCommand"
  | "updateContentCommand"
  | "postCreateCommand"
  | "postStartCommand";

export type UserEnvProbe = "none" | "interactiveShell" | "loginShell" | "loginInteractiveShell";

export type OnAutoForward =
  | "notify"
  | "openBrowser"
  | "openBrowserOnce"
  | "openPreview"
  | "silent"
  | "ignore";

export interface PortAttributes {
  label?: string;
  onAutoForward?: OnAutoForward;
  requireLocalPort?: boolean;
  elevateIfNeeded?: boolean;
  protocol?: "http" | "https";
}

/** A mount as devcontainer.json writes it: a Docker --mount string, or an object. */
export type MountSpec = string | { type: "bind" | "volume"; source?: string; target: string };

export interface HostRequirements {
  cpus?: number;
  /** "8gb", "512mb", or bytes ("4294967296"). */
  memory?: string;
  storage?: string;
  gpu?: boolean | "optional" | { cores?: number; memory?: string };
}

export interface BuildOptions {
  dockerfile?: string;
  context?: string;
  args?: Record<string, string>;
  target?: string;
  options?: string[];
  cacheFrom?: string | string[];
}

/** Option values for one Feature: a version string, true, or named options. */
export type FeatureValue = string | boolean | Record<string, string | boolean>;

export interface DevcontainerConfig {
  name?: string;
  image?: string;
  build?: BuildOptions;
  /** Legacy spellings of build.dockerfile and build.context. */
  dockerFile?: string;
  context?: string;
  dockerComposeFile?: string | string[];
  service?: string;
  runServices?: string[];
  workspaceFolder?: string;
  workspaceMount?: string;
  features?: Record<string, FeatureValue>;
  overrideFeatureInstallOrder?: string[];
  forwardPorts?: (number | string)[];
  portsAttributes?: Record<string, PortAttributes>;
  otherPortsAttributes?: PortAttributes;
  appPort?: number | string | (number | string)[];
  containerEnv?: Record<string, string>;
  remoteEnv?: Record<string, string | null>;
  containerUser?: string;
  remoteUser?: string;
  updateRemoteUserUID?: boolean;
  userEnvProbe?: UserEnvProbe;
  overrideCommand?: boolean;
  shutdownAction?: "none" | "stopContainer" | "stopCompose";
  init?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  securityOpt?: string[];
  mounts?: MountSpec[];
  runArgs?: string[];
  hostRequirements?: HostRequirements;
  customizations?: Record<string, unknown>;
  initializeCommand?: LifecycleCommand;
  onCreateCommand?: LifecycleCommand;
  updateContentCommand?: LifecycleCommand;
  postCreateCommand?: LifecycleCommand;
  postStartCommand?: LifecycleCommand;
  postAttachCommand?: LifecycleCommand;
  waitFor?: WaitFor;
  secrets?: Record<string, unknown>;
  $schema?: string;
}

/** One entry of an image's devcontainer.metadata label, or what a Feature or devcontainer.json adds. */
export interface ImageMetadataEntry {
  id?: string;
  init?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  securityOpt?: string[];
  entrypoint?: string;
  mounts?: MountSpec[];
  customizations?: Record<string, unknown>;
  onCreateCommand?: LifecycleCommand;
  updateContentCommand?: LifecycleCommand;
  postCreateCommand?: LifecycleCommand;
  postStartCommand?: LifecycleCommand;
  postAttachCommand?: LifecycleCommand;
  waitFor?: WaitFor;
  remoteUser?: string;
  containerUser?: string;
  userEnvProbe?: UserEnvProbe;
  remoteEnv?: Record<string, string | null>;
  containerEnv?: Record<string, string>;
  overrideCommand?: boolean;
  portsAttributes?: Record<string, PortAttributes>;
  otherPortsAttributes?: PortAttributes;
  forwardPorts?: (number | string)[];
  shutdownAction?: "none" | "stopContainer" | "stopCompose";
  updateRemoteUserUID?: boolean;
  hostRequirements?: HostRequirements;
}

/** The merged configuration: devcontainer.json over the image's metadata and its Features. */
export interface MergedConfig
  extends Omit<
    DevcontainerConfig,
    | "customizations"
    | "onCreateCommand"
    | "updateContentCommand"
    | "postCreateCommand"
    | "postStartCommand"
    | "postAttachCommand"
  > {
  init: boolean;
  privileged: boolean;
  entrypoints?: string[];
  customizations?: Record<string, unknown[]>;
  onCreateCommands: LifecycleCommand[];
  updateContentCommands: LifecycleCommand[];
  postCreateCommands: LifecycleCommand[];
  postStartCommands: LifecycleCommand[];
  postAttachCommands: LifecycleCommand[];
  remoteEnv: Record<string, string | null>;
  containerEnv: Record<string, string>;
  portsAttributes: Record<string, PortAttributes>;
}

/** What an organisation allows a devcontainer.json (or its image and Features) to ask for. */
export interface DevcontainerPolicy {
  allowHostMounts: boolean;
  allowPrivileged: boolean;
  allowCapAdd: boolean;
  allowSecurityOpt: boolean;
  allowRunArgs: boolean;
}

export const DEFAULT_DEVCONTAINER_POLICY: DevcontainerPolicy = Object.freeze({
  allowHostMounts: false,
  allowPrivileged: false,
  allowCapAdd: false,
  allowSecurityOpt: false,
  allowRunArgs: false,
});

/** A Feature as the setup controller has it: where it came from, its id, its devcontainer-feature.json. */
export interface FeatureRef {
  /** The key in devcontainer.json's `features` (./local, ghcr.io/o/f:1, https://.../f.tgz). */
  source: string;
  /** devcontainer-feature.json's id. */
  id: string;
  metadata: Record<string, unknown>;
}
