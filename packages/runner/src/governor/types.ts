// The CPU governor's inputs and outputs. Plain data only: a thin loop reads these samples from the
// cgroups every tick and writes the decisions back, and the pure plan in between does no I/O, so
// every case is a table row replayed from a recorded sequence of ticks.

export type CgroupMode = "v1" | "v2";

export interface GovernorConfig {
  mode: CgroupMode;
  /** Cores the host has. */
  hostCores: number;
  /** Cores kept for the host itself; the budget environments may use is hostCores − reserveCores. */
  reserveCores: number;
  /** Time constant of the usage EWMA (default 10 minutes). */
  ewmaTauMs: number;
  /** Grants happen only while the host's usage is under this fraction of the budget (default 0.9). */
  grantBelowFraction: number;
  /** A grant reverts after this many ticks in a row without throttling (default 3). */
  revertAfterQuietTicks: number;
}

export const GOVERNOR_DEFAULTS = {
  tickMs: 10_000,
  ewmaTauMs: 10 * 60_000,
  grantBelowFraction: 0.9,
  revertAfterQuietTicks: 3,
  /** The class's burst when it names none: this many times its cpus. */
  burstFactor: 2,
} as const;

/** What the cgroup holds now, read by the loop so the plan writes only what changes. */
export interface CurrentCpuValues {
  /** cpu.shares (v1) or cpu.weight (v2). */
  share: number;
  /** The CFS quota per period in µs; null when unlimited ("-1" on v1, "max" on v2). */
  quotaUs: number | null;
  /** cpu.cfs_burst_us (v1) or cpu.max.burst (v2); null when the kernel has no CFS burst. */
  burstUs: number | null;
}

/** One environment's measurements over the last tick. */
export interface EnvCpuSample {
  id: string;
  /** The class's (or the last resize's) cpus: the base quota and the base share. */
  cpus: number;
  /** The class's burst in cores; default GOVERNOR_DEFAULTS.burstFactor × cpus. Capped at the budget. */
  burstCpus?: number;
  current: CurrentCpuValues;
  /** Average cores used over the last tick. */
  usageCores: number;
  /** Periods throttled during the last tick (delta of nr_throttled). */
  throttledPeriods: number;
}

/** What the governor remembers about one environment between ticks. */
export interface EnvGovernorState {
  /** Time-weighted EWMA of usage in cores. */
  ewmaCores: number;
  granted: boolean;
  /** Ticks in a row without throttling while granted. */
  quietTicks: number;
}

export interface GovernorInput {
  config: GovernorConfig;
  /** Length of the last tick; the EWMA weighs the samples by it, so a changed tick length averages right. */
  elapsedMs: number;
  /** The host's measured CPU use over the last tick, in cores (everything, not only environments). */
  hostUsageCores: number;
  envs: EnvCpuSample[];
  /** The previous tick's state, by environment id; an id without a sample is gone and is dropped. */
  state: Record<string, EnvGovernorState>;
}

/** One file to write in the environment's cpu controller group (v1) or its group (v2). */
export interface CpuWrite {
  envId: string;
  file: "cpu.shares" | "cpu.weight" | "cpu.cfs_quota_us" | "cpu.max" | "cpu.cfs_burst_us" | "cpu.max.burst";
  value: string;
}

/** Why an environment's cap is what it is after this tick; explain.ts turns it into text. */
export type CapReason =
  | { kind: "base" }
  | { kind: "noBurst" }
  | { kind: "granted"; hostFraction: number; budgetCores: number }
  | { kind: "kept"; quietTicks: number; revertAfter: number }
  | { kind: "reverted"; quietTicks: number }
  | { kind: "revoked"; hostFraction: number }
  | { kind: "hostBusy"; hostFraction: number; grantBelowFraction: number }
  | { kind: "noRoom"; predictedCores: number; budgetCores: number };

export interface EnvCpuDecision {
  id: string;
  /** The CFS cap after this tick, in cores. */
  limitCores: number;
  share: number;
  granted: boolean;
  ewmaCores: number;
  throttledPeriods: number;
  reason: CapReason;
  /** One line for `warren inspect`. */
  explanation: string;
}

export interface GovernorCounters {
  grants: number;
  revokes: number;
  reverts: number;
  throttledPeriods: number;
}

export interface GovernorPlan {
  /** In the order to apply them (a lower quota after its burst, a higher one before). */
  writes: CpuWrite[];
  /** The state to pass to the next tick; vanished environments are absent. */
  state: Record<string, EnvGovernorState>;
  envs: EnvCpuDecision[];
  /** This tick's increments, for the metrics counters. */
  counters: GovernorCounters;
  budgetCores: number;
}
