// Who sees which series. The operator (root on the local socket, or an admin or owner of the
// server's first organisation) sees host-wide series (control plane, DNS) and every
// organisation's environments. Anyone else sees the environments they may see through the API
// (services/scope.ts): an organisation's admins all of its environments, a member their own. So an
// organisation's `metrics:read` token reveals nothing of other tenants or of the host.
import type { Principal } from "../services/actor.ts";
import { isAdmin } from "../services/identity.ts";
import { canSeeOwned } from "../services/scope.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";

export interface MetricsView {
  /** Host-wide and all-organisation series. */
  operator: boolean;
  canSee(env: { org_id?: string | null; owner_id?: string | null }): boolean;
}

export function metricsView(p: Principal): MetricsView {
  const operator = p.kind === "user" && p.orgId === BOOTSTRAP_ORG_ID && isAdmin(p);
  return { operator, canSee: (env) => operator || canSeeOwned(p, env) };
}
