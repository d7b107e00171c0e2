// warren registry login HOST [-u USER] [--password-stdin]: stores a login for pulls from HOST.
// The password is read from stdin (scripts) or typed without echo; it is never an argument,
// because arguments show up in `ps` and shell history.
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { prompt, readStdin } from "../secret-input.ts";

export async function registryLoginCommand(
  host: string,
  opts: { username?: string; passwordStdin?: boolean; json?: boolean },
) {
  const tty = process.stdin.isTTY === true;
  let username = opts.username;
  if (username === undefined) {
    if (!tty || opts.passwordStdin) {
      throw new WarrenError("INVALID_ARGUMENT", "pass the username with -u USER when not on a terminal");
    }
    username = (await prompt("Username: ", { echo: true })).trim();
  }
  let password: string;
  if (opts.passwordStdin) password = (await readStdin()).replace(/\r?\n$/, "");
  else if (tty) password = await prompt("Password: ", { echo: false });
  else {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "no terminal to ask for the password: pipe it in with --password-stdin",
    );
  }
  if (password === "") throw new WarrenError("INVALID_ARGUMENT", "the password is empty");
  const client = await connect();
  const login = await client.registryLogin(host, username, password);
  if (opts.json) printJson(login);
  else process.stdout.write(`logged in to ${login.host} as ${login.username}\n`);
  return 0;
}
