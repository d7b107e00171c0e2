// Row shapes for usage accounting (migration 029), kept apart from schema.ts.
import type { Generated } from "kysely";

export interface UsageIntervalsTable {
  id: Generated<number>;
  env_id: string;
  env_name: string;
  org_id: string;
  owner_id: string;
  project: string | null;
  class_name: string;
  kind: "run" | "disk";
  cpus: number;
  memory_bytes: number;
  disk_bytes: number;
  started_ms: number;
  /** Null while the interval is open. */
  ended_ms: number | null;
  measured_cpu_ms: Generated<number>;
  measured_at_ms: number | null;
}

export interface UsageSchema {
  usage_intervals: UsageIntervalsTable;
}
