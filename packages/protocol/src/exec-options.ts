// The options of an exec (`warren exec -u -w -e`, ExecRequest.user/cwd/env), checked the same way
// by the CLI (before anything is sent), the API and the runner (which trusts no peer).
import { WarrenError } from "./errors.ts";

/** ids inside an environment: its user namespace maps 65,536 of them. */
export const MAX_EXEC_ID = 65535;

/** A user or group name as the usual tools accept it (useradd, adduser, Debian's system users). */
const ID_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const ID_NUMBER_RE = /^[0-9]{1,5}$/;
/** What a shell accepts as a variable name. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `-u`: a name or a number, then optionally `:` and a group name or number. */
export interface ExecUserSpec {
  user: { name: string } | { id: number };
  group?: { name: string } | { id: number };
}

function idPart(s: string, what: string, whole: string): { name: string } | { id: number } {
  if (ID_NUMBER_RE.test(s) && Number(s) <= MAX_EXEC_ID) return { id: Number(s) };
  if (ID_NAME_RE.test(s)) return { name: s };
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `invalid user ${JSON.stringify(whole.slice(0, 80))}: the ${what} must be a name (letters, digits, _ . -) or a number from 0 to ${MAX_EXEC_ID}; use -u NAME, -u UID or -u UID:GID`,
    { field: "user" },
  );
}

export function parseExecUser(s: string): ExecUserSpec {
  const parts = s.split(":");
  if (parts.length > 2 || s.length === 0) idPart("", "user", s);
  const out: ExecUserSpec = { user: idPart(parts[0]!, "user", s) };
  if (parts.length === 2) out.group = idPart(parts[1]!, "group", s);
  return out;
}

/** `-w`: an absolute path without NUL, at most PATH_MAX. */
export function checkExecCwd(dir: string): string {
  if (!dir.startsWith("/") || dir.includes("\0") || dir.length > 4096) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid working directory ${JSON.stringify(dir.slice(0, 80))}: give an absolute path inside the environment, e.g. -w /workspaces/NAME/src`,
      { field: "cwd" },
    );
  }
  return dir;
}

/** `-e NAME=VALUE`: the name as a shell takes it; no NUL anywhere. */
export function parseExecEnv(pair: string): [string, string] {
  const i = pair.indexOf("=");
  const name = i < 0 ? pair : pair.slice(0, i);
  if (i < 0 || !ENV_NAME_RE.test(name) || pair.includes("\0")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid variable ${JSON.stringify(pair.slice(0, 80))}: use -e NAME=VALUE, with a NAME of letters, digits and _ not starting with a digit`,
      { field: "env" },
    );
  }
  return [name, pair.slice(i + 1)];
}

/** Checks every name of an env object (the API and the runner get objects, not pairs). */
export function checkExecEnv(env: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(env)) parseExecEnv(`${k}=${v}`);
  return env;
}
