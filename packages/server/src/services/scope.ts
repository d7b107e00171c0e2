// Organisation scoping for services: what the current caller (services/identity.ts) may see and
// change. With no caller (the controller, startup) everything is visible: the system acts for all.
//
// Visibility rules: an environment is visible to admins and owners of its organisation, and to the
// member who owns it. Anything not visible is reported as not found, never as forbidden, so ids
// and names from another organisation reveal nothing.
import type { Environment } from "@warren/protocol";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../store/migrations/005_identity.ts";
import type { EnvRow } from "../store/queries/envs.ts";
import { currentCaller, isAdmin, requireRole } from "./identity.ts";

interface Owned {
  org_id?: string;
  owner_id?: string;
}

export function canSeeEnv(row: EnvRow): boolean {
  const c = currentCaller();
  if (!c) return true;
  // selectAll() returns the ownership columns (migration 005); EnvRow's type leaves them out.
  const o = row as EnvRow & Owned;
  if (o.org_id !== c.orgId) return false;
  return isAdmin(c) || o.owner_id === c.userId;
}

/** Ownership for a new environment; undefined lets the store default to the bootstrap owner. */
export function newEnvOwnership(): { org_id: string; owner_id: string } | undefined {
  const c = currentCaller();
  return c ? { org_id: c.orgId, owner_id: c.userId } : undefined;
}

/** A row's organisation and owner (rows from before migration 005 belong to the bootstrap ones). */
export function ownershipOf(row: Owned | EnvRow): { org_id: string; owner_id: string } {
  const o = row as Owned;
  return { org_id: o.org_id ?? BOOTSTRAP_ORG_ID, owner_id: o.owner_id ?? BOOTSTRAP_OWNER_ID };
}

/** Host details (init's pid, cgroup paths) are for admins only. */
export function redactHostDetails(env: Environment): Environment {
  const c = currentCaller();
  if (!c || isAdmin(c) || !env.observed) return env;
  const { pid: _pid, cgroupPaths: _cgroups, ...rest } = env.observed;
  env.observed = rest;
  return env;
}

/** The caller's organisation, for queries on org-scoped tables (undefined for the system). */
export function callerOrg(): string | undefined {
  return currentCaller()?.orgId;
}

/**
 * The organisation a name is looked up in. Environment and class names are unique per
 * organisation (migration 009), so a name alone is ambiguous; the system (no caller) creates in
 * the bootstrap organisation (newEnvOwnership, insertClass), so it resolves names there too.
 * Ids are unique on the server and need no organisation.
 */
export function nameOrg(): string {
  return currentCaller()?.orgId ?? BOOTSTRAP_ORG_ID;
}

/** Admin-only operations (classes): members get FORBIDDEN, the system always passes. */
export function requireAdmin(what: string): void {
  const c = currentCaller();
  if (c) requireRole(c, "admin", what);
}
