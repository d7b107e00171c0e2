// Row shapes for identity and access (migration 005), kept apart from schema.ts so the identity
// tables read as one unit. Schema (schema.ts) extends IdentitySchema.
import type { ColumnType } from "kysely";

export type Role = "owner" | "admin" | "member";
export type TokenKind = "user" | "runner";

export interface OrgsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface UsersTable {
  id: string;
  name: string;
  created_at: string;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  kind: TokenKind;
  name: string;
  /** Hex SHA-256 of the whole token; the token itself is never stored. */
  hash: string;
  org_id: string;
  /** The user a personal token acts as; null for runner tokens. */
  user_id: string | null;
  /** The user who created it (for runner tokens, the admin). */
  created_by: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** Migration 018: the token this one was created with; revoking it revokes this one. */
  parent_id: ColumnType<string | null, string | null | undefined, never>;
  /** Migration 028: space-separated scopes; "" is full user access. */
  scopes: ColumnType<string, string | undefined, never>;
}

// Ownership columns added to existing tables by migration 005. They are kept out of the row types
// services pass around (EnvRow, ClassRow) and default in the database to the bootstrap org and
// owner, so code that predates them keeps writing valid rows.
export interface EnvOwnership {
  org_id: ColumnType<string, string | undefined, never>;
  owner_id: ColumnType<string, string | undefined, never>;
}

/** Built-in classes are shared by every organisation whatever their org_id. */
export interface ClassOwnership {
  org_id: ColumnType<string, string | undefined, never>;
}

export interface IdentitySchema {
  orgs: OrgsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  api_tokens: ApiTokensTable;
}
