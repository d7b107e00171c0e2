// Row shapes as stored. Services and controllers use the mapped types in queries/*.ts.
import type { DesiredState, EnvState } from "@warren/protocol";
import type { ColumnType, Generated } from "kysely";

export interface EnvironmentsTable {
  id: string;
  name: string;
  class_name: string;
  image: string;
  runtime: string;
  cpus: number;
  memory_bytes: number;
  disk_bytes: number;
  pids: number;
  slot: number;
  desired: DesiredState;
  state: EnvState;
  /** JSON Condition[] */
  conditions: string;
  /** JSON EnvObserved from the last reconcile pass (without PSI), or null. */
  observed: string | null;
  /** Grace period for the next stop; 0 after a forced delete. Durable so a restart keeps it. */
  stop_grace_ms: number;
  /** Bumped on every change of intent, so a pass started before it cannot overwrite the outcome. */
  generation: number;
  /** JSON EgressPolicy, copied from the class at creation (migration 002). Defaults to "all". */
  egress: ColumnType<string, string | undefined, string>;
  created_at: string;
  updated_at: string;
}

export interface ClassesTable {
  name: string;
  cpus: number;
  memory_bytes: number;
  disk_bytes: number;
  pids: number;
  runtime: string | null;
  max_cpus: number;
  max_memory_bytes: number;
  max_disk_bytes: number;
  builtin: number;
  /** JSON EgressPolicy (migration 002). */
  egress: ColumnType<string, string | undefined, string>;
  created_at: string;
}

export interface EventsTable {
  id: Generated<number>;
  env_id: string;
  at: string;
  message: string;
}

export interface RegistryCredentialsTable {
  host: string;
  username: string;
  /** base64 of iv | tag | AES-256-GCM ciphertext of the password (migration 004). */
  secret: string;
  created_at: string;
  updated_at: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

export interface Schema {
  environments: EnvironmentsTable;
  classes: ClassesTable;
  events: EventsTable;
  schema_migrations: SchemaMigrationsTable;
  registry_credentials: RegistryCredentialsTable;
}
