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
}

/** The disk each runner's environments reserve, kept by triggers (migration 016). */
export interface RunnerTotalsTable {
  runner_id: string;
  disk_bytes: number;
}

export interface RunnersSchema {
  runners: RunnersTable;
  runner_totals: RunnerTotalsTable;
}
