// Identity and access as the API shows it: who the caller is, personal and runner tokens, and
// organisation membership. A token's secret appears only in CreatedToken, once.
export type Role = "owner" | "admin" | "member";

export interface Whoami {
  user: { id: string; name: string };
  org: { id: string; name: string };
  role: Role;
  /** How the caller authenticated: the local root socket, or a bearer token. */
  via: "local-socket" | "token";
  tokenId?: string;
}

/** A token as listed: never the secret, never its hash. */
export interface TokenInfo {
  id: string;
  kind: "user" | "runner";
  name: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  /** What the token may do; empty: everything its user may do (TOKEN_SCOPES). */
  scopes: TokenScope[];
}

export interface CreatedToken {
  id: string;
  /** The secret; shown once, never stored in clear and never returned again. */
  token: string;
  expiresAt: string;
}

export interface CreateTokenRequest {
  name: string;
  expiresInDays?: number;
  /** Narrow the token to these scopes (TOKEN_SCOPES); omitted or empty: full user access. */
  scopes?: TokenScope[];
}

/**
 * Scopes narrow a user token. `metrics:read` may read GET /metrics and /metrics/runners and
 * nothing else, so a Prometheus server holds a credential that cannot touch environments.
 */
export const TOKEN_SCOPES = ["metrics:read"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface Member {
  userId: string;
  name: string;
  role: Role;
}

export interface AddMemberRequest {
  /** The user's name; the user is created if it does not exist yet. */
  name: string;
  role: Role;
}

export const TOKEN_PREFIX = "wrn_";
export const RUNNER_TOKEN_PREFIX = "wrn_r_";
