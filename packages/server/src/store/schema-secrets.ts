// Row shape for environment secrets (migration 008).
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
}
