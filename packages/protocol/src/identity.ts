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
}

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
