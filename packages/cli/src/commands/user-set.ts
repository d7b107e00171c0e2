// warren user set [--git-name N] [--git-email E] [--dotfiles URL] [--json]: your developer
// identity, applied to every environment you create from a repository (git config --global
// user.name/user.email, then ~/dotfiles cloned and its install script run as you). An empty
// value clears a field. `warren user show` prints what is stored.
import { type SetUserGitRequest, type UserGit, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export interface UserSetOptions {
  gitName?: string;
  gitEmail?: string;
  dotfiles?: string;
  json?: boolean;
}

/** The request: a flag given as "" clears its field; one not given is left as stored. */
export function userSetRequest(o: UserSetOptions): SetUserGitRequest {
  const req: SetUserGitRequest = {};
  const put = (k: keyof SetUserGitRequest, v: string | undefined) => {
    if (v !== undefined) req[k] = v.trim() === "" ? null : v;
  };
  put("gitName", o.gitName);
  put("gitEmail", o.gitEmail);
  put("dotfiles", o.dotfiles);
  if (Object.keys(req).length === 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      'nothing to set: give --git-name "Ada Lovelace", --git-email ada@example.com and/or --dotfiles https://github.com/ada/dotfiles (an empty value clears one)',
    );
  }
  return req;
}

export function formatUserGit(u: UserGit): string {
  const row = (k: string, v: string | undefined) => `${k.padEnd(10)}${v ?? "(not set)"}\n`;
  return row("git name", u.gitName) + row("git email", u.gitEmail) + row("dotfiles", u.dotfiles);
}

export async function userSetCommand(o: UserSetOptions): Promise<number> {
  const req = userSetRequest(o);
  const client = await connect();
  const stored = await client.setUserGit(req);
  if (o.json) printJson(stored);
  else process.stdout.write(formatUserGit(stored));
  return 0;
}

export async function userShowCommand(o: { json?: boolean }): Promise<number> {
  const client = await connect();
  const stored = await client.getUserGit();
  if (o.json) printJson(stored);
  else process.stdout.write(formatUserGit(stored));
  return 0;
}
