// Numbered, forward-only migrations. Append a new file; never edit one that has shipped.
import { init } from "./001_init.ts";
import { egress } from "./002_egress.ts";
import { registryCredentials } from "./004_registry_credentials.ts";
import { identity } from "./005_identity.ts";
import { idempotency } from "./006_idempotency.ts";
import { auditQuotas } from "./007_audit_quotas.ts";
import { secrets } from "./008_secrets.ts";
import { orgNames } from "./009_org_names.ts";
import { orgRegistryImages } from "./010_org_registry_images.ts";
import { oidcIdentities } from "./011_oidc_identities.ts";
import { envProject } from "./012_env_project.ts";
import { envTotals } from "./013_env_totals.ts";
import { runners } from "./014_runners.ts";
import { tokenMaxDays } from "./015_token_max_days.ts";
import { envRunner } from "./016_env_runner.ts";
import { signinBinding } from "./017_signin_binding.ts";
import { tokenLineage } from "./018_token_lineage.ts";
import { envUser } from "./019_env_user.ts";
import { idempotencyClaims } from "./020_idempotency_claims.ts";
import { sshKeys } from "./021_ssh_keys.ts";
import { ports } from "./022_ports.ts";
import { idle } from "./023_idle.ts";
import { oidcPortFlows } from "./024_oidc_port_flows.ts";
import { envSetup } from "./025_env_setup.ts";
import { userGit } from "./026_user_git.ts";
import { prebuilds } from "./027_prebuilds.ts";
import { tokenScopes } from "./028_token_scopes.ts";
import { usage } from "./029_usage.ts";
import { oidcDashboardFlows } from "./030_oidc_dashboard_flows.ts";
import { fleet } from "./031_fleet.ts";
import { autoscaler } from "./032_autoscaler.ts";
import { relay } from "./033_relay.ts";
import { classDiskIo } from "./034_class_disk_io.ts";
import { warmPools } from "./035_warm_pools.ts";
import { classCpuBurst } from "./036_class_cpu_burst.ts";

// Each migration carries the same change twice: `sql` for SQLite and `pg` for PostgreSQL. The two
// dialects differ where it matters for the schema (STRICT tables, GLOB, json_valid, autoincrement,
// 64-bit integers, float width), so one shared text would have to give up SQLite's strictness.
// Both must describe the same columns and constraints; the shared store suite
// (test/store-suite.ts) runs every query against both.
export interface Migration {
  version: number;
  name: string;
  /** SQLite (embedded default). */
  sql: string;
  /** PostgreSQL (many replicas). */
  pg: string;
}

export const MIGRATIONS: readonly Migration[] = [
  init,
  egress,
  registryCredentials,
  identity,
  idempotency,
  auditQuotas,
  secrets,
  orgNames,
  orgRegistryImages,
  oidcIdentities,
  envProject,
  envTotals,
  runners,
  tokenMaxDays,
  envRunner,
  signinBinding,
  tokenLineage,
  envUser,
  idempotencyClaims,
  sshKeys,
  ports,
  idle,
  oidcPortFlows,
  envSetup,
  userGit,
  prebuilds,
  tokenScopes,
  usage,
  oidcDashboardFlows,
  fleet,
  autoscaler,
  relay,
  classDiskIo,
  warmPools,
  classCpuBurst,
];
