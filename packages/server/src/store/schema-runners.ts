import type { ColumnType, Generated } from "kysely";

// Runners as last seen (migration 014; runners/hub.ts).
export interface RunnersTable {
  /** The runner token's id. */
  id: string;
  org_id: string;
  hostname: string;
  /** JSON RunnerInfo from its hello or last heartbeat. */
  info: string;
  /** JSON string[]: the image references it had at its last heartbeat. */
  image_refs: string;
  /** The replica holding its connection; null while disconnected. */
  replica: string | null;
  seen_at: string;
  /** Unique per organisation (migration 031); null only on rows from before names. */
  name: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON Record<string, string>. */
  labels: ColumnType<string, string | undefined, string>;
  schedule: ColumnType<RunnerSchedule, RunnerSchedule | undefined, RunnerSchedule>;
  /** When the control plane lost sight of it (no replica holds it); null while connected. */
  unreachable_since: ColumnType<string | null, string | null | undefined, string | null>;
  /** The id the runner keeps in its state root (RunnerInfo.hostId). */
  host_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export type RunnerSchedule = "active" | "cordoned" | "draining";

/** Admission's hot row per runner (migration 031): reported capacity and what is allocated. */
export interface RunnerCapacityTable {
  runner_id: string;
  org_id: string;
  cpus: ColumnType<number, number | undefined, number>;
  memory_bytes: ColumnType<number, number | undefined, number>;
  /** Bytes for environment disks: the host's free space at the last report plus what is allocated. */
  disk_bytes: ColumnType<number, number | undefined, number>;
  slots: ColumnType<number, number | undefined, number>;
  /** Kept by triggers on environments: sums over the runner's environment rows. */
  alloc_cpus: ColumnType<number, number | undefined, number>;
  alloc_memory_bytes: ColumnType<number, number | undefined, number>;
  alloc_disk_bytes: ColumnType<number, number | undefined, number>;
  alloc_envs: ColumnType<number, number | undefined, number>;
}

/** Each runner's slots; env_id null = free (migration 031; triggers keep it). */
export interface RunnerSlotsTable {
  runner_id: string;
  slot: number;
  env_id: string | null;
}

/** Creates the scheduler could not place (for the autoscaler), pruned by age. */
export interface FleetDemandTable {
  id: Generated<number>;
  org_id: string;
  cpus: number;
  memory_bytes: number;
  disk_bytes: number;
  at: string;
}

/** The disk each runner's environments reserve, kept by triggers (migration 016). */
export interface RunnerTotalsTable {
  runner_id: string;
  disk_bytes: number;
}

export interface RunnersSchema {
  runners: RunnersTable;
  runner_totals: RunnerTotalsTable;
  runner_capacity: RunnerCapacityTable;
  runner_slots: RunnerSlotsTable;
  fleet_demand: FleetDemandTable;
}
