// Wire types for environments, classes and images. These are JSON shapes, stable across versions.

import type { EnvIdle } from "./idle.ts";
import type { IoLimits } from "./io-limits.ts";
import type { EnvSetup, RepoSource } from "./repo.ts";

export const ENV_STATES = [
  "pending",
  "creating",
  "running",
  "stopping",
  "stopped",
  "failed",
  "deleting",
] as const;
export type EnvState = (typeof ENV_STATES)[number];
export type DesiredState = "running" | "stopped" | "deleted";

// gvisor: Debian's runsc (the Sentry serves the syscalls); stronger isolation, slower start.
export const RUNTIMES = ["runc", "crun", "gvisor"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface Resources {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  pids: number;
}

export interface Condition {
  type: string; // e.g. "Failed", "ImageMissing", "Adopted"
  status: "True" | "False";
  reason: string;
  message: string;
  at: string; // ISO time
}

export interface Psi {
  cpu: number | null;
  memory: number | null;
  io: number | null;
}

/** What the runner sees on the host for one environment. */
export interface EnvObserved {
  id: string;
  state: "running" | "stopped" | "absent";
  pid?: number;
  startedAt?: string;
  uidRange?: { start: number; size: number };
  cgroupPaths?: Record<string, string>;
  psi?: Psi;
  runtime?: string;
  reason?: string;
  /** Limits the runner last applied (bundle at start, or a live resize since). */
  resources?: Resources;
  /** Its IPv4 address on the runner's environment network, while it runs. */
  ip?: string;
  /**
   * Whether its disk (workspace and writable layer) may have changed since its last clean stop:
   * false only between a clean stop and the next start, when none of its processes exist.
   */
  workspaceDirty?: boolean;
  /** Its processes killed at its memory limit, over its life (`warren inspect`); absent before the first. */
  oom?: EnvOomKills;
  /** The runner's CPU governor for it, while it runs. */
  cpuGovernor?: EnvCpuGovernor;
}

export interface EnvOomKills {
  /** Processes the kernel killed at its memory limit, over every start (a counter). */
  kills: number;
  /** The last one, as its log says it: "process X was killed: out of memory (limit 2Gi)…". */
  last?: { message: string; at: string };
}

/** An environment's CPU cap as the runner's governor keeps it (`warren inspect`, /metrics). */
export interface EnvCpuGovernor {
  /** Whether the runner's governor manages it (false: WARREN_GOVERNOR=off, the class cpus stay the cap). */
  governed: boolean;
  /** The CFS cap now, in cores; null when the group has no quota. */
  limitCores: number | null;
  /** Its class cpus: the cap it falls back to and its work-conserving share. */
  baseCores: number;
  /** The most a grant raises the cap to (its burst, at most the host's budget). */
  burstCores: number;
  /** Whether a burst is granted now. */
  granted: boolean;
  /** Bursts granted since this runner began governing it (a counter). */
  burstGrantsTotal: number;
  /** CFS periods in which it was throttled, since it started (the kernel's counter). */
  throttledPeriodsTotal: number;
  /** Time its tasks spent throttled, since it started (the kernel's counter). */
  throttledSecondsTotal: number;
  /** The cap and why, in one line. */
  explanation?: string;
}

export interface EnvSpec {
  name: string;
  className: string;
  image: string;
  runtime: RuntimeName;
  resources: Resources;
  /** Where its traffic may go: its class's policy, fixed when it was created. Always set by this server. */
  egress?: EgressPolicy;
  /** The repository it works on, in normalizeProject()'s form (project.ts); its project secrets reach it. */
  project?: string;
  /** Who its processes run as by default (env-user.ts); this server always sets it. */
  user?: string;
}

export interface Environment {
  id: string;
  name: string;
  spec: EnvSpec;
  desired: DesiredState;
  state: EnvState;
  conditions: Condition[];
  slot: number;
  createdAt: string;
  updatedAt: string;
  observed?: EnvObserved;
  /** Idle stop: its own timeout, its last use and when it stops unless used (idle.ts). */
  idle?: EnvIdle;
  /** Made from a repository (`warren up --repo`): its source, setup phase and hooks. */
  setup?: EnvSetup;
  /** The runner it was placed on (its id and fleet name); absent from servers before the fleet. */
  runner?: { id: string; name: string };
  /** The scheduler's explanation, e.g. "placed on r3: most free memory, image cached". */
  placement?: string;
}

export interface ClassSpec {
  name: string;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  pids: number;
  runtime?: RuntimeName;
  maxCpus: number;
  maxMemoryBytes: number;
  maxDiskBytes: number;
  builtin: boolean;
  /** Where environments of this class may send traffic; default { mode: "all" }. */
  egress: EgressPolicy;
  /** The longest its environments may go unused before they stop (seconds); null or absent: no limit. */
  idleTimeoutSeconds?: number | null;
  /** Labels a runner must carry to take its environments ({} : any runner); absent from servers before the fleet. */
  requiredLabels?: Record<string, string>;
  /** Sum of CPU limits over a runner's cores that placement allows (class-placement.ts; default 4). */
  cpuOvercommit?: number;
  /** Sum of memory limits over a runner's memory that placement allows (default 1, at most 1.5). */
  memoryOvercommit?: number;
  /** Sum of disk sizes over a runner's free disk that placement allows (1 to 64, default 4). */
  diskOvercommit?: number;
  /** Disk I/O limits of its environments ({}: unlimited); absent from servers before I/O limits. */
  ioLimits?: IoLimits;
  /**
   * The CPU governor's burst for its environments, in cores (cpus to 64); null: the runner's
   * default (WARREN_GOVERNOR_BURST_FACTOR × cpus). Absent from servers before per-class bursts.
   */
  cpuBurst?: number | null;
}

export interface ImageInfo {
  ref: string;
  digest: string;
  layers: string[];
  sizeBytes: number;
  createdAt: string;
  /** When an environment last started from this image (absent: never). */
  lastUsedAt?: string;
}

export interface CreateEnvRequest {
  name?: string;
  className?: string;
  image?: string;
  runtime?: RuntimeName;
  cpus?: number;
  memory?: string;
  disk?: string;
  /** A repository URL in any form normalizeProject() accepts; stored normalized. */
  project?: string;
  /** The user its processes run as (env-user.ts); default root. */
  user?: string;
  /** Stop it after this long unused: a duration (30m, 2h) or "never"; default 30m within the limits. */
  idleTimeout?: string;
  /** Make it from a repository: clone, devcontainer.json, build, hooks (repo.ts). Sets `project`. */
  repo?: RepoSource;
}

export interface CreateClassRequest {
  name: string;
  cpus: number;
  memory: string;
  disk: string;
  pids?: number;
  runtime?: RuntimeName;
  maxCpus?: number;
  maxMemory?: string;
  maxDisk?: string;
  /** `all` (default), `none`, or comma-separated IPv4/IPv6 CIDRs (see egress.ts). */
  egress?: string;
  /** The longest its environments may go unused: a duration (2h) or "never" (default: no limit). */
  idleTimeout?: string;
  /** Labels a runner must carry to take its environments, e.g. {"zone": "eu"} (default: none). */
  requiredLabels?: Record<string, string>;
  /** CPU overcommit ratio, 1 to 64 (default 4). */
  cpuOvercommit?: number;
  /** Memory overcommit ratio, 1 to 1.5 (default 1). */
  memoryOvercommit?: number;
  /** Disk overcommit ratio, 1 to 64 (default 4). */
  diskOvercommit?: number;
  /** Disk I/O limits of its environments (bytes/s and operations/s); absent fields are unlimited. */
  ioLimits?: IoLimits;
  /** The CPU governor's burst in cores, from cpus to 64; absent or null: the runner's default (2 × cpus). */
  cpuBurst?: number | null;
}

/** PATCH /environments/:name: live resize; omitted fields keep their value. */
export interface SetResourcesRequest {
  cpus?: number;
  memory?: string;
  pids?: number;
  /** A duration (30m, 2h) or "never", within the class's and organisation's limits. */
  idleTimeout?: string;
}

export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** The built-in Debian base image, built on first use with mmdebstrap. */
export const DEFAULT_IMAGE = "warren/debian:bookworm";
export const DEFAULT_CLASS = "default";

/** Where an environment's traffic may go, beyond the always-blocked destinations. */
export type EgressPolicy = { mode: "all" } | { mode: "none" } | { mode: "allow"; cidrs: string[] };

/** Usage figures of one environment, as `warren stats` shows them. */
export interface EnvStats {
  id: string;
  name?: string;
  cpuCores: number; // cores used, averaged over the sample window
  memoryWorkingSetBytes: number;
  memoryLimitBytes: number;
  pids: number;
  pidsLimit: number;
  diskUsedBytes: number;
  diskQuotaBytes: number;
  psi: Psi;
  oomKills: number;
  at: string;
  /** CPU time used since the environment started (a counter; resets on restart). */
  cpuSecondsTotal?: number;
  /** The highest memory use the kernel recorded for the environment's cgroup. */
  memoryMaxBytes?: number;
  /** Bytes through the environment's network interface, from its side (counters). */
  networkReceiveBytes?: number;
  networkTransmitBytes?: number;
  /** Its CPU cap, burst grants and throttling (the runner's governor). */
  cpuGovernor?: EnvCpuGovernor;
}

export interface DnsStats {
  hits: number;
  misses: number;
  negativeHits: number;
  upstreamQueries: number;
  upstreamErrors: number;
  tcpRetries: number;
  cacheEntries: number;
  upstreamLatencyMs: { p50: number; p99: number; mean: number };
  upstreams: string[];
}
