// Row shape for environment secrets (migration 008).
import type { ColumnType } from "kysely";

export interface SecretsTable {
  org_id: string;
  scope: "org" | "user" | "project";
  owner: string;
  name: string;
  kind: "env" | "file";
  path: string | null;
  /** base64(iv | tag | AES-256-GCM ciphertext); never the value. */
  secret: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  /**
   * Migration 018, project secrets only: a JSON array of "user:<user id>" and "role:<role>"; only
   * environments whose owner matches one receive the secret. Null: every member's environments.
   */
  allowed: ColumnType<string | null, string | null | undefined, string | null>;
}
