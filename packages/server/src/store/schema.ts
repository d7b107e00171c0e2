// Row shapes as stored. Services and controllers use the mapped types in queries/*.ts.
import type { DesiredState, EnvState } from "@warren/protocol";
import type { ColumnType, Generated } from "kysely";
import type { AuditRecordsTable, OrgQuotasTable } from "./schema-audit.ts";
import type { AutoscalerSchema } from "./schema-autoscaler.ts";
import type { ClassOwnership, EnvOwnership, IdentitySchema } from "./schema-identity.ts";
import type { OrgImagesSchema } from "./schema-images.ts";
import type { OidcSchema } from "./schema-oidc.ts";
import type { PoolsSchema } from "./schema-pools.ts";
import type { PortsSchema } from "./schema-ports.ts";
import type { PrebuildsSchema } from "./schema-prebuilds.ts";
import type { RelaySchema } from "./schema-relay.ts";
import type { RunnersSchema } from "./schema-runners.ts";
import type { SecretsTable } from "./schema-secrets.ts";
import type { SshKeysSchema } from "./schema-ssh-keys.ts";
import type { UsageSchema } from "./schema-usage.ts";
import type { UserGitSchema } from "./schema-user-git.ts";

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
  /** The repository, normalized (protocol project.ts), or null (migration 012). */
  project: ColumnType<string | null, string | null | undefined, string | null>;
  /** The scheduler's explanation of where it placed the environment (migration 031). */
  placement: ColumnType<string | null, string | null | undefined, string | null>;
  /** The runner it was admitted to, whose slots and disk it counts against (migration 016). */
  runner_id: string;
  /** Who its processes run as by default (migration 019); 'root' unless `up --user` said otherwise. */
  user_name: ColumnType<string, string | undefined, string>;
  /** Idle stop (migration 023): its own timeout in seconds, null for never. */
  idle_timeout_s: ColumnType<number | null, number | null | undefined, number | null>;
  last_activity_at: ColumnType<string | null, string | null | undefined, string | null>;
  last_activity_kind: ColumnType<string | null, string | null | undefined, string | null>;
  last_activity_source: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the idle controller stops it (ISO); only moves forward. */
  idle_deadline: ColumnType<string | null, string | null | undefined, string | null>;
  /** Made from a repository (migration 025): JSON SetupState (queries/setups.ts), else null. */
  setup: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON Record<string,string> of devcontainer containerEnv, or null. */
  container_env: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON {name,target}[] of named volumes on its disk, or null. */
  volumes: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON IoLimits copied from its class at create (migration 034), or null: unlimited. */
  io_limits: ColumnType<string | null, string | null | undefined, string | null>;
  /** The CPU governor's burst in cores, copied from its class at create (migration 036); null: the runner's default. */
  cpu_burst: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: string;
  updated_at: string;
}

export interface UploadsTable {
  id: string;
  org_id: string;
  owner_id: string;
  size_bytes: number;
  created_at: string;
  expires_at: string;
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
  /** The longest its environments may stay unused, seconds; null: no limit (migration 023). */
  idle_timeout_s: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: string;
  /** JSON Record<string, string>: labels a runner must carry to host this class (migration 031). */
  required_labels: ColumnType<string, string | undefined, string>;
  cpu_overcommit: ColumnType<number, number | undefined, number>;
  memory_overcommit: ColumnType<number, number | undefined, number>;
  /** Sum of disk sizes over a runner's free disk placement allows (migration 034). */
  disk_overcommit: ColumnType<number, number | undefined, number>;
  /** Disk I/O limits of its environments, bytes or operations per second; null: unlimited. */
  read_bps: ColumnType<number | null, number | null | undefined, number | null>;
  write_bps: ColumnType<number | null, number | null | undefined, number | null>;
  read_iops: ColumnType<number | null, number | null | undefined, number | null>;
  write_iops: ColumnType<number | null, number | null | undefined, number | null>;
  /** The CPU governor's burst in cores, cpus to 64 (migration 036); null: the runner's default. */
  cpu_burst: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface EventsTable {
  id: Generated<number>;
  env_id: string;
  at: string;
  message: string;
}

export interface RegistryCredentialsTable {
  /** The organisation the login belongs to (migration 010). */
  org_id: string;
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

/** Stored Idempotency-Key outcomes (migration 006). */
export interface IdempotencyKeysTable {
  principal: string;
  key: string;
  method: string;
  path: string;
  body_hash: string;
  state: "in_flight" | "done";
  status: number | null;
  response: string | null;
  created_at: string;
  /** The server instance holding an in-flight claim (migration 020); null before it. */
  claimed_by: string | null;
  /** ISO time until which that claim is alive without news (migration 020). */
  lease_until: string | null;
}

/** The environment watch log (migration 006); `rv` is the resource version. */
export interface EnvChangesTable {
  rv: Generated<number>;
  env_id: string;
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** JSON Environment as of this change. */
  object: string;
  /** Ownership as of this change, so a watch shows each caller only what it may see. */
  org_id: string | null;
  owner_id: string | null;
  at: string;
}

/** One row (id 1): the highest rv compacted out of env_changes (migration 006). */
export interface EnvChangesCompactedTable {
  id: number;
  rv: number;
}

export interface Schema
  extends IdentitySchema,
    OidcSchema,
    OrgImagesSchema,
    RunnersSchema,
    AutoscalerSchema,
    RelaySchema,
    SshKeysSchema,
    UserGitSchema,
    PrebuildsSchema,
    PoolsSchema,
    PortsSchema,
    UsageSchema {
  environments: EnvironmentsTable & EnvOwnership;
  classes: ClassesTable & ClassOwnership;
  events: EventsTable;
  uploads: UploadsTable;
  schema_migrations: SchemaMigrationsTable;
  registry_credentials: RegistryCredentialsTable;
  idempotency_keys: IdempotencyKeysTable;
  env_changes: EnvChangesTable;
  env_changes_compacted: EnvChangesCompactedTable;
  audit_records: AuditRecordsTable;
  org_quotas: OrgQuotasTable;
  secrets: SecretsTable;
}
