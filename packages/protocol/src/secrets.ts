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
/** Variable secrets' names: shell variable names. */
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** File secrets' names: file names, so also '.' and '-' (never first: no hidden or option-like names). */
export const SECRET_FILE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** The longest path a file secret may have. */
export const SECRET_PATH_MAX = 255;
/**
 * Where no file secret may go: the kernel's interfaces, the workspace (a disk, and the value
 * must never reach one) and what Warren itself mounts into every environment.
 */
export const SECRET_PATH_RESERVED: readonly string[] = [
  "/proc",
  "/sys",
  "/dev",
  "/workspaces",
  "/.warren",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/hostname",
];
const PATH_SEGMENT_RE = /^[A-Za-z0-9._@+-]+$/;

/** What is wrong with a secret's name for its kind, or undefined when it is fine. */
export function secretNameProblem(name: string, kind: SecretKind): string | undefined {
  if (kind === "file") {
    return SECRET_FILE_NAME_RE.test(name)
      ? undefined
      : `a file secret's name is 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-' (not "${name}")`;
  }
  return SECRET_NAME_RE.test(name)
    ? undefined
    : `a variable secret's name is a shell variable name: 1-128 letters, digits and underscores, not starting with a digit (not "${name}"); file secrets (--file) may also use '.' and '-'`;
}

/**
 * What is wrong with a file secret's path, or undefined when it is fine. Any absolute path
 * outside SECRET_PATH_RESERVED: one in SECRETS_DIR is a file on its tmpfs; one anywhere else
 * becomes a symlink into that tmpfs, so the value never touches the environment's disk.
 */
export function secretPathProblem(p: string): string | undefined {
  const fix = "choose an absolute path such as /etc/app/app.conf, or leave it out for /run/secrets/NAME";
  if (!p.startsWith("/")) return `a file secret's path must be absolute, not "${p}": ${fix}`;
  if (p.length > SECRET_PATH_MAX) return `a file secret's path is at most ${SECRET_PATH_MAX} characters`;
  const segments = p.slice(1).split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || !PATH_SEGMENT_RE.test(s))) {
    return `a file secret's path is /DIR/.../FILE, each part letters, digits, '.', '_', '-', '+' or '@' (no '..', '//' or trailing '/'), not "${p}"`;
  }
  const reserved = SECRET_PATH_RESERVED.find((r) => p === r || p.startsWith(`${r}/`));
  if (reserved) {
    return `a file secret cannot go to ${p}: ${reserved} belongs to ${
      ["/proc", "/sys", "/dev"].includes(reserved) ? "the kernel" : "Warren"
    }${reserved === "/workspaces" ? " (a disk: secrets live in memory only)" : ""}; ${fix}`;
  }
  if (p === SECRETS_DIR) return `${SECRETS_DIR} is the secrets directory itself: name a file in it`;
  if (p.startsWith(`${SECRETS_DIR}/`)) {
    const file = p.slice(SECRETS_DIR.length + 1);
    if (segments.length !== 3 || !SECRET_FILE_NAME_RE.test(file)) {
      return `a file in ${SECRETS_DIR} is ${SECRETS_DIR}/FILE, FILE being letters, digits, '_', '.' and '-' not starting with '.' or '-' (${SECRETS_ENV_FILE} holds the variable secrets), not "${p}"`;
    }
  }
  return undefined;
}

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
  /** File secrets: an absolute path (secretPathProblem); outside /run/secrets, a symlink into it. */
  path?: string;
  value: string;
}
