// The authorization matrix's expectations, written by hand from issue 5 and NOT derived from the
// server's code: for every route the app registers, the least principal allowed to call it.
// authz-matrix.test.ts fails for a registered route missing here and for an entry no route matches.
//
// Ranks: public < member < admin < owner for user routes; "runner" routes (/api/runner/v1) accept
// runner tokens only and "public" ones need no credentials. From the issue:
// - members manage their own environments (and their own tokens and user-scoped secrets);
// - admins manage every environment of the organisation, its classes, policies and quotas, runner
//   tokens, the audit log, and what is shared by everyone's pulls and environments (registry
//   logins, organisation and project secrets, image removal, import from a host path);
// - owners also manage membership;
// - "server-owner"/"server-admin": that role in the server's first organisation only (root on the
//   host acts as its owner). Rotating the encryption keys re-encrypts every organisation's
//   secrets, and an import reads any path on the host, so another organisation (a tenant) must
//   not be able to.
// Members may build the base image and pull images: `warren up` does both on their behalf.

export type Least = "public" | "member" | "admin" | "owner" | "server-admin" | "server-owner" | "runner";

/** A route whose least role depends on a path parameter (secrets: the scope). */
export interface Variant {
  label: string;
  least: Least;
  params: Record<string, string>;
}

export type Expectation = Least | Variant[];

const bySecretScope: Variant[] = [
  { label: "user scope", least: "member", params: { scope: "user" } },
  { label: "org scope", least: "admin", params: { scope: "org" } },
  { label: "project scope", least: "admin", params: { scope: "project" } },
];

/** A path value the matrix replaces with a fresh token of organisation A's owner. */
export const OWNER_TOKEN = "@owner-token";

// Members revoke their own tokens, admins any of the organisation's but an owner's (a token
// created with a token, and a member's tokens on removal, are revoked by the service itself:
// token-lineage.test.ts).
const byTokenOwner: Variant[] = [
  { label: "a member's token", least: "member", params: {} },
  { label: "an owner's token", least: "owner", params: { id: OWNER_TOKEN } },
];

export const AUTHZ: Record<string, Expectation> = {
  // System and documentation.
  "GET /api/v1/health": "public",
  "GET /api/v1/openapi.json": "member",
  "GET /api/v1/runner": "member",
  "GET /api/v1/dns/stats": "member",
  // Prometheus: everyone reads the series of the environments they may see (metrics-access.test.ts);
  // host-wide series only the server's first organisation's admins.
  "GET /metrics": "member",
  "GET /metrics/runners": "member",

  // Sign-in: the caller has no Warren token yet.
  "GET /api/v1/auth/oidc/start": "public",
  "GET /api/v1/auth/oidc/callback": "public",
  "POST /api/v1/auth/device": "public",
  "POST /api/v1/auth/device/token": "public",
  "GET /api/v1/auth/device/verify": "public",
  "GET /api/v1/auth/port-signin": "public",
  // The dashboard's session: signing in takes a token in the body; reading the session needs its
  // cookie (a bearer caller is told it has none); a link is for a token's user or local root.
  "POST /api/v1/auth/dashboard/session": "public",
  "GET /api/v1/auth/dashboard/session": "member",
  "POST /api/v1/auth/dashboard/signout": "public",
  "POST /api/v1/auth/dashboard/link": "member",
  "GET /api/v1/auth/dashboard/oidc": "public",

  // Identity.
  "GET /api/v1/whoami": "member",
  "POST /api/v1/tokens": "member",
  "GET /api/v1/tokens": "member",
  "DELETE /api/v1/tokens/:id": byTokenOwner,
  "POST /api/v1/admin/runner-tokens": "admin",
  "GET /api/v1/orgs/:org/members": "owner",
  "POST /api/v1/orgs/:org/members": "owner",
  "DELETE /api/v1/orgs/:org/members/:user": "owner",
  "GET /api/v1/orgs/:org/quotas": "admin",
  "PUT /api/v1/orgs/:org/quotas": "admin",
  "GET /api/v1/audit": "admin",

  // Environments: members manage their own.
  "GET /api/v1/environments": "member",
  "POST /api/v1/environments": "member",
  "GET /api/v1/environments/:name": "member",
  "PATCH /api/v1/environments/:name": "member",
  "DELETE /api/v1/environments/:name": "member",
  "POST /api/v1/environments/:name/start": "member",
  "POST /api/v1/environments/:name/stop": "member",
  "GET /api/v1/environments/:name/stats": "member",
  "GET /api/v1/environments/:name/logs": "member",
  "GET /api/v1/environments/:name/exec": "member",
  "GET /api/v1/environments/:name/port-forward": "member",
  "GET /api/v1/environments/:name/ports": "member",
  "PUT /api/v1/environments/:name/ports/:port": "member",
  "POST /api/v1/environments/:name/ports/:port/signin-link": "member",
  "GET /api/v1/environments/:name/services": "member",
  "POST /api/v1/environments/:name/services/:service/start": "member",
  "POST /api/v1/environments/:name/services/:service/stop": "member",
  "POST /api/v1/environments/:name/services/:service/restart": "member",
  "GET /api/v1/environments/:name/services/:service/logs": "member",
  "GET /api/v1/environments/:name/tasks": "member",
  "POST /api/v1/environments/:name/rebuild": "member",
  "POST /api/v1/environments/:name/hooks/:hook": "member",
  "PUT /api/v1/uploads": "member",
  "POST /api/v1/environments/:name/tasks/:task/run": "member",
  "GET /api/v1/environments/:name/tasks/:task/logs": "member",
  "GET /api/v1/stats": "member",

  // Classes: admins.
  "GET /api/v1/classes": "member",
  "POST /api/v1/classes": "admin",
  "DELETE /api/v1/classes/:name": "admin",

  // Images: everyone's environments use them; removing or importing from a host path is admin work.
  "GET /api/v1/images": "member",
  "POST /api/v1/images/pull": "member",
  "POST /api/v1/images/base": "member",
  "POST /api/v1/images/import": "server-admin",
  "DELETE /api/v1/images/:ref": "admin",
  "POST /api/v1/images/prune": "admin",

  // Registry logins: every pull from that host uses the stored one.
  "GET /api/v1/registries": "member",
  "PUT /api/v1/registries/:host": "admin",
  "DELETE /api/v1/registries/:host": "admin",

  // Secrets.
  "GET /api/v1/secrets": "member",
  "PUT /api/v1/secrets/:scope/:name": bySecretScope,
  "DELETE /api/v1/secrets/:scope/:name": bySecretScope,
  "POST /api/v1/admin/rotate-key": "server-owner",

  // SSH keys: everyone manages their own; admins also list and remove their members'.
  "GET /api/v1/ssh-keys": "member",
  "GET /api/v1/ssh/gateway": "member",
  "GET /api/v1/http/proxy": "member",
  "POST /api/v1/ssh-keys": "member",
  "DELETE /api/v1/ssh-keys/:id": "member",
  // Each user's own git name, email and dotfiles (no one sets another's).
  "GET /api/v1/user/git": "member",
  "PUT /api/v1/user/git": "member",
  // Usage: a member reads their own, an admin the organisation's (services/usage.ts).
  "GET /api/v1/usage": "member",
  // The fleet: which runners take the organisation's environments is admin work.
  "GET /api/v1/fleet/runners": "admin",
  "POST /api/v1/fleet/runners/:name/cordon": "admin",
  "POST /api/v1/fleet/runners/:name/uncordon": "admin",
  "POST /api/v1/fleet/runners/:name/drain": "admin",

  // Prebuilds: every member's `up --repo` starts from them, so admins make and remove them; any
  // member's token may trigger a run of an existing one (a push webhook).
  "GET /api/v1/prebuilds": "member",
  "POST /api/v1/prebuilds": "admin",
  "DELETE /api/v1/prebuilds": "admin",
  "POST /api/v1/prebuilds/webhook": "member",

  // Warm pools: ready environments on the organisation's runners are admin work.
  "GET /api/v1/pools": "admin",
  "POST /api/v1/pools": "admin",
  "DELETE /api/v1/pools": "admin",

  // The runner protocol.
  "GET /api/runner/v1/ping": "runner",
  "GET /api/runner/v1/connect": "runner",
};
