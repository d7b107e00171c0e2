// Who owns an unclaimed warm-pool member: a reserved owner id that no user can have (user ids are
// `usr_…`, identity.ts), in the pool's own organisation. Ownership is how every existing read
// already filters (scope.ts canSeeOwned, the watch's owner column, quotas' sums), so hiding
// members and keeping them out of quotas is one rule there, not a filter in every query.
import { POOL_OWNER_ID } from "../store/migrations/035_warm_pools.ts";
import type { UserActor } from "./actor.ts";

export { POOL_OWNER_ID };

/** Whether a row (an environment, a watch entry) is an unclaimed pool member. */
export function isPoolMember(row: { owner_id?: string | null } | object): boolean {
  return (row as { owner_id?: string | null }).owner_id === POOL_OWNER_ID;
}

/**
 * The actor the pool controller creates members as: a member of the organisation (so placement,
 * images and admission treat the member exactly as a user's environment), owning nothing else.
 * It never authenticates: no token or session names it, and the HTTP edge cannot produce it.
 */
export function poolActor(orgId: string): UserActor {
  return Object.freeze({ kind: "user", userId: POOL_OWNER_ID, orgId, role: "member", via: "local-socket" });
}
