// Organisation scoping for services: what an actor (services/actor.ts) may see and change. It
// fails closed: a missing actor is refused (NoActorError), never read as "everything". Only the
// system sees every organisation.
//
// Visibility rules: an environment is visible to admins and owners of its organisation, and to the
// member who owns it. Anything not visible is reported as not found, never as forbidden, so ids
// and names from another organisation reveal nothing. A runner sees nothing through the services:
// it is sent its organisation's environments over the runner protocol, and that is all it gets.
import { type Environment, WarrenError } from "@warren/protocol";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../store/migrations/005_identity.ts";
import type { EnvRow } from "../store/queries/envs.ts";
import { type Actor, describeActor, requireActor } from "./actor.ts";
import { isAdmin, requirePlatformRole, requireRole } from "./identity.ts";
import { POOL_OWNER_ID } from "./pool-owner.ts";

interface Owned {
  org_id?: string | null;
  owner_id?: string | null;
}

/** Whether `a` may see something owned by (org, owner): an environment row or a watch entry. */
export function canSeeOwned(a: Actor, o: Owned): boolean {
  const actor = requireActor(a);
  if (actor.kind === "system") return true;
  if (actor.kind === "runner") return false;
  if (o.org_id !== actor.orgId) return false;
  // An unclaimed warm-pool member is nobody's yet: not even an admin lists or addresses it.
  if (o.owner_id === POOL_OWNER_ID) return actor.userId === POOL_OWNER_ID;
  return isAdmin(actor) || o.owner_id === actor.userId;
}

export function canSeeEnv(a: Actor, row: EnvRow): boolean {
  // selectAll() returns the ownership columns (migration 005); EnvRow's type leaves them out.
  return canSeeOwned(a, row as EnvRow & Owned);
}

/** Ownership for a new environment: the user's, or the bootstrap owner's when the system creates. */
export function newEnvOwnership(a: Actor): { org_id: string; owner_id: string } {
  const actor = requireActor(a);
  if (actor.kind === "user") return { org_id: actor.orgId, owner_id: actor.userId };
  if (actor.kind === "system") return { org_id: BOOTSTRAP_ORG_ID, owner_id: BOOTSTRAP_OWNER_ID };
  throw forbidden(actor, "creating an environment");
}

/** A row's organisation and owner (rows from before migration 005 belong to the bootstrap ones). */
export function ownershipOf(row: Owned | EnvRow): { org_id: string; owner_id: string } {
  const o = row as Owned;
  return { org_id: o.org_id ?? BOOTSTRAP_ORG_ID, owner_id: o.owner_id ?? BOOTSTRAP_OWNER_ID };
}

/** Host details (init's pid, cgroup paths) are for admins and the system only. */
export function redactHostDetails(a: Actor, env: Environment): Environment {
  const actor = requireActor(a);
  if (actor.kind === "system" || (actor.kind === "user" && isAdmin(actor)) || !env.observed) return env;
  const { pid: _pid, cgroupPaths: _cgroups, ...rest } = env.observed;
  env.observed = rest;
  return env;
}

/**
 * The organisation an actor's queries are limited to; undefined only for the system, which sees
 * every organisation. Queries on org-scoped tables take it as their filter.
 */
export function actorOrg(a: Actor): string | undefined {
  const actor = requireActor(a);
  return actor.kind === "system" ? undefined : actor.orgId;
}

/**
 * The organisation a name is looked up in, and things are created in. Environment and class names
 * are unique per organisation (migration 009), so a name alone is ambiguous; the system creates in
 * the bootstrap organisation (newEnvOwnership), so it resolves names there too. Ids are unique on
 * the server and need no organisation.
 */
export function nameOrg(a: Actor): string {
  return actorOrg(a) ?? BOOTSTRAP_ORG_ID;
}

/** Admin-only operations (classes, registry logins, images): members are refused, the system passes. */
export function requireAdmin(a: Actor, what: string): void {
  const actor = requireActor(a, what);
  if (actor.kind === "system") return;
  if (actor.kind === "runner") throw forbidden(actor, what);
  requireRole(actor, "admin", what);
}

/** Server-wide operations (services/identity.ts requirePlatformRole); the system passes. */
export function requirePlatform(a: Actor, role: "admin" | "owner", what: string): void {
  const actor = requireActor(a, what);
  if (actor.kind === "system") return;
  if (actor.kind === "runner") throw forbidden(actor, what);
  requirePlatformRole(actor, role, what);
}

/** Calls only the system makes: decrypting every secret for delivery or masking. */
export function requireSystem(a: Actor, what: string): void {
  const actor = requireActor(a, what);
  if (actor.kind !== "system") throw forbidden(actor, what);
}

function forbidden(a: Actor, what: string): WarrenError {
  return new WarrenError("FORBIDDEN", `${what} is not open to ${describeActor(a)}`);
}
