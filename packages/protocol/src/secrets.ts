// Secrets for environments: scoped to an organisation, a user or a project (a repository URL);
// each is an environment variable or a file. Values travel to the server in a PUT body and to a
// runner in RunnerEnvSpec.secrets, and are never returned by the API.
export type SecretScope = "org" | "user" | "project";
export type SecretKind = "env" | "file";

export const SECRET_SCOPES: readonly SecretScope[] = ["org", "user", "project"];
/** Where file secrets live inside an environment: a tmpfs, so nothing reaches the host's disk. */
export const SECRETS_DIR = "/run/secrets";
/** Environment-variable secrets, shell-quoted `NAME='value'` lines, on the same tmpfs (0400). */
export const SECRETS_ENV_FILE = "/run/secrets/.env";
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** What the API shows of a secret: never its value. */
export interface SecretInfo {
  name: string;
  scope: SecretScope;
  kind: SecretKind;
  /** File secrets: the path inside the environment. */
  path?: string;
  /** Project secrets: the repository URL. */
  project?: string;
  /** User secrets: the user's id. */
  user?: string;
  /** Project secrets restricted to named users or roles: "user:NAME" and "role:ROLE" entries. */
  allow?: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PutSecretRequest {
  value: string;
  kind: SecretKind;
  path?: string;
  project?: string;
  /**
   * Project secrets only: who receives it. "user:NAME" names a member; "role:ROLE" admits that
   * role and every higher one (member < admin < owner). Absent keeps what the secret had (a new
   * one: every member who names the project's URL); null lifts a restriction.
   */
  allow?: string[] | null;
}

/** The most entries a project secret's allow list may hold. */
export const MAX_SECRET_ALLOW = 64;

/** One secret as handed to a runner with ensureRunning. Runners must never persist it. */
export interface SecretDelivery {
  name: string;
  kind: SecretKind;
  /** File secrets: an absolute path under /run/secrets/. */
  path?: string;
  value: string;
}
