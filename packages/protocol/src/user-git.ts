// A user's developer identity (`warren user set --git-name --git-email --dotfiles URL`): set once,
// applied to every environment they create from a repository (git config --global user.name and
// user.email, then their dotfiles repository cloned to ~/dotfiles and its install script run as
// them, as Codespaces does). Also the conventions for the git credentials an environment's clone
// uses, which come from `warren secret` (never from this record, never from a URL).

import { WarrenError } from "./errors.ts";
import { normalizeProject } from "./project.ts";

export interface UserGit {
  gitName?: string;
  gitEmail?: string;
  /** A git URL (https, ssh, git or scp-like) of the user's dotfiles repository. */
  dotfiles?: string;
  updatedAt?: string;
}

/**
 * PUT /api/v1/user/git: a field given replaces the stored one, `null` clears it, an absent
 * field stays as it was.
 */
export interface SetUserGitRequest {
  gitName?: string | null;
  gitEmail?: string | null;
  dotfiles?: string | null;
}

export const MAX_GIT_NAME = 200;
export const MAX_GIT_EMAIL = 254;
export const MAX_GIT_URL = 1024;

/**
 * File secrets a clone inside an environment uses, by name (each lands at /run/secrets/NAME, a
 * tmpfs, readable by the environment's user only):
 * - git-credentials: git-credential-store lines (`https://USER:TOKEN@HOST`), so each credential
 *   goes only to its own host; read through a get-only credential helper, never put in a URL.
 * - git-ssh-key: a private key (OpenSSH format) for ssh URLs.
 * - git-known-hosts: known_hosts lines for ssh URLs, added to the host keys pinned at create
 *   time; host keys are always checked (StrictHostKeyChecking=yes).
 */
export const GIT_CREDENTIALS_SECRET = "git-credentials";
export const GIT_SSH_KEY_SECRET = "git-ssh-key";
export const GIT_KNOWN_HOSTS_SECRET = "git-known-hosts";

/** Part of ApiClient (api.ts). */
export interface UserGitClient {
  getUserGit(): Promise<UserGit>;
  setUserGit(req: SetUserGitRequest): Promise<UserGit>;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function bad(field: string, why: string): WarrenError {
  return new WarrenError("INVALID_ARGUMENT", `${field}: ${why}`, { field });
}

/** The name, trimmed, or INVALID_ARGUMENT: 1-200 printable characters, as git's user.name. */
export function checkGitName(name: string): string {
  const n = name.trim();
  if (n.length === 0 || n.length > MAX_GIT_NAME || CONTROL.test(n) || /[<>]/.test(n)) {
    throw bad(
      "gitName",
      `a git name is 1-${MAX_GIT_NAME} printable characters without '<' or '>', e.g. --git-name "Ada Lovelace"`,
    );
  }
  return n;
}

/** The address, trimmed, or INVALID_ARGUMENT: one plain LOCAL@DOMAIN address. */
export function checkGitEmail(email: string): string {
  const e = email.trim();
  if (e.length > MAX_GIT_EMAIL || !/^[^\s@<>"]+@[^\s@<>"]+$/.test(e) || CONTROL.test(e)) {
    throw bad(
      "gitEmail",
      `a git email is one address like ada@example.com (at most ${MAX_GIT_EMAIL} characters)`,
    );
  }
  return e;
}

/**
 * A URL git may clone inside an environment, or INVALID_ARGUMENT: https, http, ssh or git URLs
 * and scp-like `user@host:path`, without credentials (those go in the git-credentials secret).
 * Local paths, file:// and git's command transports (ext::) are refused.
 */
export function checkGitUrl(url: string, field = "url"): string {
  const u = url.trim();
  if (u.length === 0 || u.length > MAX_GIT_URL || /\s/.test(u) || CONTROL.test(u) || u.startsWith("-")) {
    throw bad(
      field,
      `a git URL is https://HOST/PATH, ssh://USER@HOST/PATH or USER@HOST:PATH, at most ${MAX_GIT_URL} characters`,
    );
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(u);
  const scpLike = !scheme && /^[A-Za-z0-9._-]+@[^/:]+:/.test(u);
  if (!scheme && !scpLike) {
    throw bad(
      field,
      `${JSON.stringify(u.slice(0, 80))} is not a remote git URL; give https://HOST/PATH, ssh://USER@HOST/PATH or USER@HOST:PATH (a local directory is uploaded by the CLI instead)`,
    );
  }
  try {
    // One parser for every repository URL: refuses other schemes, credentials in http(s) URLs,
    // queries, `..` segments and malformed hosts, each with its own message.
    normalizeProject(u);
  } catch (err) {
    if (err instanceof WarrenError) {
      const hint = /credentials/.test(err.message)
        ? `; put the token in a file secret instead: printf 'https://USER:TOKEN@HOST\\n' | warren secret set ${GIT_CREDENTIALS_SECRET} --file --value-stdin`
        : "";
      throw bad(field, `${err.message.replace(/^invalid project/, "invalid git URL")}${hint}`);
    }
    throw err;
  }
  return u;
}
