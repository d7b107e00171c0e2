// Environments made from a repository (`warren up --repo`): where the code comes from, and the
// setup steps the control plane walks through (clone, read devcontainer.json, build, restart
// into the built image, lifecycle hooks, automations). JSON shapes, stable across versions.

/** Where an environment's code comes from. Exactly one of `url` and `uploadId`. */
export interface RepoSource {
  /** An https or ssh git URL (https://host/o/r.git, ssh://git@host/o/r.git, git@host:o/r.git). */
  url?: string;
  /** A tar of a local directory the CLI read and uploaded (PUT /api/v1/uploads). */
  uploadId?: string;
  /** Branch (or tag) to check out; default the remote's HEAD. */
  branch?: string;
  /** devcontainer.json's path relative to the repository root; default: discovered. */
  devcontainerPath?: string;
  /** Pinned SSH host keys (known_hosts lines) for an ssh URL, checked strictly. */
  knownHosts?: string[];
  /**
   * The CLI user's environment at create time, for ${localEnv:X}: only what the CLI sends (the
   * variables the configuration names). Never the runner host's environment.
   */
  localEnv?: Record<string, string>;
  /** The local folder on the CLI's machine, for ${localWorkspaceFolder}; default the repo's name. */
  localWorkspaceFolder?: string;
}

export const SETUP_PHASES = [
  "clone", // the bootstrap container (the base image) clones onto the environment's disk
  "configure", // devcontainer.json and .warren/automations.yaml are read and merged
  "build", // the image is pulled or built, Features applied
  "restart", // the environment restarts into its image, same disk
  "hooks", // lifecycle hooks, dotfiles, automations
  "update", // started from a prebuild: fetch the latest commit, then hooks (or configure, if its configuration changed)
  "ready",
  "failed", // clone, configuration or build failed: terminal until `warren rebuild`
] as const;
export type SetupPhase = (typeof SETUP_PHASES)[number];

export const LIFECYCLE_HOOKS = [
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
] as const;
export type LifecycleHookName = (typeof LIFECYCLE_HOOKS)[number];

/** A lifecycle command as devcontainer.json writes it: a shell string, an argv, or named parallel ones. */
export type LifecycleCommand = string | string[] | Record<string, string | string[]>;

export interface HookRun {
  name: LifecycleHookName | "dotfiles";
  state: "running" | "done" | "failed";
  exitCode?: number;
  /** When it last started and finished (ISO). */
  startedAt?: string;
  finishedAt?: string;
}

/** What `inspect` and `ls --json` show of a repository environment (Environment.setup). */
export interface EnvSetup {
  /** The source, without localEnv (which can hold anything the user's shell had). */
  source: Omit<RepoSource, "localEnv">;
  /** Folder name under /workspaces (the repository's name). */
  dir: string;
  phase: SetupPhase;
  /** Why the phase is `failed`, as the error catalogue's message. */
  message?: string;
  /** The image the environment runs once configured (pulled, built or the base). */
  image?: string;
  /** devcontainer.json's workspaceFolder (default /workspaces/DIR): exec, shell and ssh land here. */
  workspaceFolder: string;
  /** devcontainer.json's remoteUser (or containerUser): exec, shell and ssh run as this user. */
  remoteUser?: string;
  /** The devcontainer.json found, relative to the repository root; absent when there is none. */
  configFile?: string;
  /** Lifecycle hooks that ran (latest run of each). */
  hooks: HookRun[];
  /**
   * False while hooks of this start are queued or running. `phase` becomes `ready` once the
   * `waitFor` hook finished (an interactive `up` opens its shell then); scripts wait for settled.
   */
  settled?: boolean;
}

/** The condition a failed hook leaves (its message: "postCreateCommand failed: exit 2"). */
export const HOOK_FAILED_CONDITION = "HookFailed";

/** Largest upload of a local directory (`warren up --repo DIR`). */
export const MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
