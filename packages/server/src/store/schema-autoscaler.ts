// The runner autoscaler's tables (migration 032; controllers/autoscaler/).

export type AutoscalerHostState = "creating" | "ready" | "draining" | "deleting" | "deleted" | "failed";

/** One row per pool: its last decision and what the plan remembers between passes. */
export interface AutoscalerStateTable {
  pool: string;
  org_id: string;
  desired: number;
  current: number;
  utilization: number | null;
  decision: string;
  at: string;
  last_up_at: string | null;
  last_down_at: string | null;
  below_since: string | null;
  /** The replica acting for the pool until lease_until. */
  holder: string | null;
  lease_until: string | null;
}

/** Each host asked of a provider; runner_id is the runner token minted for it. */
export interface AutoscalerHostsTable {
  request_id: string;
  pool: string;
  org_id: string;
  runner_id: string;
  runner_name: string;
  provider_id: string | null;
  state: AutoscalerHostState;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface AutoscalerSchema {
  autoscaler_state: AutoscalerStateTable;
  autoscaler_hosts: AutoscalerHostsTable;
}
