// The runner protocol: what the control plane asks of one host's runner. In embedded mode the
// server calls an in-process implementation through this same interface (an in-memory transport);
// remote runners will carry it over the network. Requests carry the full desired spec, so a
// runner can converge from any state (level-triggered), including after a host reboot.

import type { Duplex } from "node:stream";
import type {
  DnsStats,
  EgressPolicy,
  EnvObserved,
  EnvStats,
  ImageInfo,
  Resources,
  RuntimeName,
} from "./env.ts";
import type { IoLimits } from "./io-limits.ts";
import type { RunnerBuild } from "./runner-build.ts";
import type { SecretDelivery } from "./secrets.ts";

export interface RunnerEnvSpec {
  id: string;
  name: string;
  /** Index of the environment's 65,536-id block inside the host's `warren` subuid range. */
  slot: number;
  image: string;
  runtime: RuntimeName;
  resources: Resources;
  /** From the environment's class; absent means allow everything (less the always-blocked). */
  egress?: EgressPolicy;
  /**
   * The user exec lands as, who owns the workspace folder and the secrets (env-user.ts). Absent
   * means root, as for every environment made before users existed.
   */
  user?: string;
  /**
   * Secrets that apply, with ensureRunning only. Held in memory: never written to handle.json,
   * the OCI bundle, runtime state or logs. File and variable secrets land on a tmpfs inside.
   */
  secrets?: SecretDelivery[];
  /** Variables every process gets (devcontainer.json containerEnv), after the image's own. */
  env?: Record<string, string>;
  /**
   * Named volumes (devcontainer.json `mounts` of type volume): folders on the environment's own
   * disk (so they count against its quota and go with its backups), bound at `target`.
   */
  volumes?: { name: string; target: string }[];
  /**
   * A disk template (RunnerTemplates.saveTemplate) the disk is made from when it does not exist
   * yet, instead of an empty filesystem. Ignored once the disk exists. A missing one is an error.
   */
  template?: string;
  /** Disk I/O limits from its class, applied to its disk's block device; absent: unlimited. */
  io?: IoLimits;
  /**
   * The CPU governor's burst from its class, in cores; absent: the runner's default
   * (WARREN_GOVERNOR_BURST_FACTOR × cpus). Either way at most the host's budget.
   */
  cpuBurst?: number;
  /**
   * An unclaimed warm-pool member: no secrets yet, but the /run/secrets tmpfs is mounted all the
   * same, so the create that takes it over can deliver its owner's without a restart.
   */
  warm?: boolean;
}

export interface RunnerInfo {
  id: string;
  hostname: string;
  runtimes: RuntimeName[];
  cpus: number;
  memoryBytes: number;
  /** Free bytes on the filesystem holding environment disks, less the reserve. */
  diskFreeBytes: number;
  cgroupMode: "v1" | "v2" | "hybrid";
  idRange: { start: number; size: number };
  /** The runner's name in its fleet (`warren runner --name`; default the hostname). */
  name?: string;
  /** Placement labels (`--label zone=eu`); classes may require them. */
  labels?: Record<string, string>;
  /** Live usage of the host, fresh on every info() (the control plane's heartbeat reads it). */
  usage?: RunnerUsage;
  /** Set when the host itself says it must not take new environments, with why. */
  unschedulable?: string;
  /**
   * A random id the runner keeps in its state root: the same host under a new token (a new
   * runner id) is recognised by it and keeps its environments.
   */
  hostId?: string;
}

export interface RunnerUsage {
  /** Host CPU in use, cores, as an exponentially weighted moving average over recent samples. */
  cpuEwmaCores: number;
  /** MemTotal - MemAvailable. */
  memoryWorkingSetBytes: number;
  memoryAvailableBytes: number;
}

/** A runner name: a DNS label. */
export const RUNNER_NAME_PATTERN = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
/** Label keys: `zone`, `gpu`, `example.com/tier`. */
export const RUNNER_LABEL_KEY_PATTERN = "^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$";
export const RUNNER_LABEL_VALUE_PATTERN = "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$";

export interface ExecRequest {
  cmd: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  cwd?: string;
  /** `-u`: NAME, UID, NAME:GROUP or UID:GID inside (exec-options.ts); default the environment's user. */
  user?: string;
  /**
   * A Warren helper (SSH relay, sftp-server, automation supervisor), set only by the control
   * plane's own code, never from a user's request: it keeps OOM score 0, where a user's process
   * starts at +500 and so dies first when the environment runs out of memory.
   */
  helper?: boolean;
}

export interface ExecHandlers {
  /** `false` (like stream.write) asks the sender to hold off until `whenWritable` resolves. */
  stdout(data: Uint8Array): unknown;
  stderr(data: Uint8Array): unknown;
  /** With a `false` from stdout/stderr: resolves when the caller can take more output. */
  whenWritable?(): Promise<void>;
  /** Exit status of the command: its code, or 128+signal. */
  exit(code: number): void;
  /**
   * Warren's own failure after the stream opened (an {type:"error"} control frame, or the stream
   * dropping before an exit). Exactly one of exit/error fires. The CLI exits 125 on it.
   */
  error?(err: Error): void;
}

export interface ExecSession {
  /** `false` (like stream.write) asks the sender to hold further input until whenStdinWritable resolves. */
  stdin(data: Uint8Array): unknown;
  /** Resolves once input written so far has drained to the process (at once when nothing waits). */
  whenStdinWritable?(): Promise<void>;
  endStdin(): void;
  resize(cols: number, rows: number): void;
  signal(sig: NodeJS.Signals): void;
  /** Flow control (flow-control.ts): stop reading the command's output until resume(). */
  pause?(): void;
  resume?(): void;
}

export interface ProgressEvent {
  phase: string;
  message: string;
  current?: number;
  total?: number;
}

export type ProgressFn = (ev: ProgressEvent) => void;

/** A registry login; sent only to its registry host and to that registry's token realm. */
export interface RegistryCredential {
  username: string;
  password: string;
}

export interface PullOptions {
  credential?: RegistryCredential;
}

export interface LogStream {
  /** Resolves when the stream ends (never, with follow, until closed). */
  done: Promise<void>;
  close(): void;
}

// The runner protocol is split into small capabilities, so a service names only the calls it makes
// and each capability has one conformance suite (@warren/testing/conformance) run against the real
// Engine, the Engine behind the runner link and the fake. RunnerApi is all of them together.

/**
 * Putting environments on and off the host. `appendEvent` is here, not with `logs`: it records what
 * the lifecycle did (started, stopped, a secret delivery failed) and only the lifecycle's callers
 * (the controller, secret delivery) write it; `logs` merely reads those lines back with the rest.
 */
export interface RunnerLifecycle {
  /** Creates whatever is missing (disk, mounts, cgroups, container) and starts the environment. Idempotent. */
  ensureRunning(spec: RunnerEnvSpec): Promise<EnvObserved>;
  /** SIGTERM, wait up to graceMs, then kill. Keeps the disk. Idempotent. */
  ensureStopped(spec: RunnerEnvSpec, graceMs: number): Promise<EnvObserved>;
  /** Removes container, mounts, loop device, cgroups and disk. Idempotent. */
  remove(id: string): Promise<void>;
  /** `{ id, state: "absent" }` for an id the host has nothing of. */
  observe(id: string): Promise<EnvObserved>;
  /** Every environment the runner finds on the host, by id. */
  list(): Promise<EnvObserved[]>;
  /** Removes host objects of environments not in `keep` (half-made leftovers). Returns the ids swept. */
  sweep(keep: Set<string>): Promise<string[]>;
  /** Applies spec.resources to a running environment live (cgroup limits). */
  setResources(spec: RunnerEnvSpec): Promise<EnvObserved>;
  appendEvent(id: string, message: string): Promise<void>;
}

/** Processes inside a running environment and the environment's output. */
export interface RunnerExec {
  /** Rejects with ENV_NOT_RUNNING unless the environment is running. */
  exec(id: string, req: ExecRequest, handlers: ExecHandlers): Promise<ExecSession>;
  logs(id: string, opts: { follow: boolean; tail?: number }, onData: (chunk: string) => void): LogStream;
}

/** The host's image store. */
export interface RunnerImages {
  listImages(): Promise<ImageInfo[]>;
  importImage(path: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  /** Builds the built-in Debian base image if it is not cached. */
  ensureBaseImage(opts: { mirror?: string }, progress: ProgressFn): Promise<ImageInfo>;
  hasImage(ref: string): Promise<boolean>;
  /**
   * Pulls from an OCI registry (HTTP API v2), resuming, verifying every digest. The control plane
   * passes the login for the reference's registry host per pull; the runner stores no secrets.
   */
  pullImage(ref: string, progress: ProgressFn, opts?: PullOptions): Promise<ImageInfo>;
  /**
   * Removes an image; its layers go when no other image uses them. Refuses images in use
   * (IMAGE_IN_USE) and unknown ones (IMAGE_NOT_FOUND).
   */
  removeImage(ref: string): Promise<string[]>;
  /**
   * Removes unreferenced layers (and unused images beyond the cache cap). Images in `keep` stay:
   * the control plane names those another organisation holds.
   */
  pruneImages(opts?: { keep?: string[] }): Promise<{ removed: string[]; freedBytes: number }>;
}

/** Listening sockets reported for one environment, at most: a hostile one can open many. */
export const MAX_LISTENING_PORTS = 4096;

/** A TCP socket listening inside an environment's network namespace. */
export interface ListeningPort {
  port: number;
  /** The local address it is bound to: "0.0.0.0", "::", "127.0.0.1", ... */
  address: string;
  family: 4 | 6;
  /** The owning process's name (its comm), when it could be told; best effort. */
  process?: string;
}

/** An environment's network namespace: byte streams into it, and what listens there. */
export interface RunnerStreams {
  /**
   * A byte stream to host:port as seen from inside the environment's network namespace, so
   * 127.0.0.1 is the environment's own loopback and everything else passes its egress policy.
   * `host` is an IP literal (default 127.0.0.1). Rejects with DIAL_FAILED (the errno in details)
   * when nothing answers, ENV_NOT_RUNNING when the environment is not running.
   */
  dial(id: string, port: number, host?: string): Promise<Duplex>;
  /**
   * The TCP sockets listening in the environment's network namespace, read by host code from the
   * kernel's per-namespace tables (never from the image's files), one entry per port, address and
   * family, sorted by port. Rejects with ENV_NOT_RUNNING when the environment is not running.
   */
  listPorts(id: string): Promise<ListeningPort[]>;
}

/**
 * Figures the host reports, read-only. `info` is here, not with the lifecycle: it is the host's
 * capacity and inventory (runtimes, cpus, memory, free disk, id range), read by admission and by
 * `GET /runner` alike, and changes nothing; a reader of figures needs no power over environments.
 */
export interface RunnerStats {
  info(): Promise<RunnerInfo>;
  /** Rejects with ENV_NOT_RUNNING unless the environment is running. */
  stats(id: string): Promise<EnvStats>;
  dnsStats(): Promise<DnsStats>;
}

/** A disk template's key: lower-case hex (the control plane derives it, prebuild-key.ts). */
export const TEMPLATE_KEY_RE = /^[0-9a-f]{16,128}$/;

export interface SavedTemplate {
  key: string;
  /** The image the template's writable root layer was made on. */
  image: string;
  /** The disk's size (its filesystem's), and what the copy takes on the host (sparse). */
  diskBytes: number;
  usedBytes: number;
}

/**
 * Disk templates (prebuilds): a stopped environment's disk kept under a key, so a new environment
 * starts from a copy of it (RunnerEnvSpec.template) instead of an empty disk.
 */
export interface RunnerTemplates {
  /** Copies the disk of a stopped environment to the template `key` (replacing one of that key). */
  saveTemplate(envId: string, key: string): Promise<SavedTemplate>;
  /** Removes the template `key`; nothing to remove is fine. */
  removeTemplate(key: string): Promise<void>;
}

export interface RunnerApi
  extends RunnerLifecycle,
    RunnerTemplates,
    RunnerExec,
    RunnerImages,
    RunnerStreams,
    RunnerStats,
    RunnerBuild {}
