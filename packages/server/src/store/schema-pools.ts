// Row shapes of the warm pools (migration 035; controllers/pool/).
import type { Generated } from "kysely";

export interface WarmPoolsTable {
  id: string;
  org_id: string;
  image: string;
  class_name: string;
  min_size: number;
  max_size: number;
  /** JSON PoolWindow[] (services/pool-schedule.ts); '[]' for none. */
  schedule: string;
  /** Member creations that failed in a row; 0 after one reaches running. */
  failures: number;
  /** ISO time before which no member is created (backoff), or null. */
  retry_at: string | null;
  last_error: string | null;
  claims_total: number;
  created_at: string;
  updated_at: string;
}

export interface WarmPoolClaimsTable {
  id: Generated<number>;
  pool_id: string;
  env_id: string;
  at: string;
}

export interface PoolsSchema {
  warm_pools: WarmPoolsTable;
  warm_pool_claims: WarmPoolClaimsTable;
}
