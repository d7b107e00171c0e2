// warren admin token create [--name N] [--expires-days D] [--json]: makes a personal token for the
// caller (root on the local socket: the bootstrap owner) and prints it once, for remote use.
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function adminTokenCreateCommand(opts: { name?: string; expiresDays?: string; json?: boolean }) {
  let expiresInDays: number | undefined;
  if (opts.expiresDays !== undefined) {
    expiresInDays = Number(opts.expiresDays);
    if (!Number.isInteger(expiresInDays) || expiresInDays < 1) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `--expires-days must be a whole number of days, not "${opts.expiresDays}"`,
      );
    }
  }
  const client = await connect();
  const name = opts.name ?? `cli-${new Date().toISOString().slice(0, 10)}`;
  const created = await client.createToken(expiresInDays === undefined ? { name } : { name, expiresInDays });
  if (opts.json) printJson(created);
  else
    process.stdout.write(
      `${created.token}\n` +
        `token ${created.id} expires ${created.expiresAt}; it is shown only now, store it safely\n`,
    );
  return 0;
}
