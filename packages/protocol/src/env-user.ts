// The user an environment's processes run as (`warren up --user NAME`): who owns its workspace
// folder, can read its secrets, and whom exec and shell land as (anything built on exec too).
// Checked the same way by the CLI (before anything is made), the API and the runner (which
// trusts no peer).
import { WarrenError } from "./errors.ts";

/** Today's behaviour, and what every environment made before users existed runs as. */
export const DEFAULT_ENV_USER = "root";

/**
 * The portable subset useradd, busybox adduser and `sudo -u` all accept (shadow's default
 * NAME_REGEX without the trailing `$`): lowercase, at most 32 characters, never a number alone
 * (which tools would read as a uid).
 */
export const ENV_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The name if it is acceptable; otherwise INVALID_ARGUMENT saying what is allowed. */
export function checkEnvUser(name: string): string {
  if (ENV_USER_RE.test(name)) return name;
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `invalid user ${JSON.stringify(name)}: use 1-32 characters of a-z, 0-9, _ and -, starting with a letter or _ (e.g. dev, vscode, node)`,
    { field: "user" },
  );
}
