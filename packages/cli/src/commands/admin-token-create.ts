// warren admin token create [--name N] [--expires-days D] [--json]: makes a personal token for the
// caller (root on the local socket: the bootstrap owner) and prints it once, for remote use.
// warren admin runner-token create: the same for a runner token (wrn_r_...), which only
// `warren runner` uses and which can call nothing but the runner protocol.
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function adminTokenCreateCommand(
  opts: { name?: string; expiresDays?: string; json?: boolean },
  kind: "user" | "runner" = "user",
) {
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
  const name =
    opts.name ?? `${kind === "runner" ? "runner" : "cli"}-${new Date().toISOString().slice(0, 10)}`;
  const req = expiresInDays === undefined ? { name } : { name, expiresInDays };
  const created = kind === "runner" ? await client.createRunnerToken(req) : await client.createToken(req);
  if (opts.json) printJson(created);
  else
    process.stdout.write(
      `${created.token}\n` +
        `token ${created.id} expires ${created.expiresAt}; it is shown only now, store it safely\n`,
    );
  return 0;
}
