// warren admin token create [--name N] [--expires-days D] [--scope S]... [--json]: makes a personal
// token for the caller (root on the local socket: the bootstrap owner) and prints it once, for
// remote use. --scope narrows it (metrics:read: a Prometheus scrape credential).
// warren admin runner-token create: the same for a runner token (wrn_r_...), which only
// `warren runner` uses and which can call nothing but the runner protocol.
import { type CreateTokenRequest, TOKEN_SCOPES, type TokenScope, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function adminTokenCreateCommand(
  opts: { name?: string; expiresDays?: string; scope?: string[]; json?: boolean },
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
  const scopes = opts.scope ?? [];
  for (const s of scopes) {
    if (!(TOKEN_SCOPES as readonly string[]).includes(s)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `unknown --scope "${s}"; known scopes: ${TOKEN_SCOPES.join(", ")}`,
      );
    }
  }
  const req: CreateTokenRequest = { name };
  if (expiresInDays !== undefined) req.expiresInDays = expiresInDays;
  if (scopes.length > 0) req.scopes = scopes as TokenScope[];
  const created = kind === "runner" ? await client.createRunnerToken(req) : await client.createToken(req);
  if (opts.json) printJson(created);
  else
    process.stdout.write(
      `${created.token}\n` +
        `token ${created.id} expires ${created.expiresAt}; it is shown only now, store it safely\n`,
    );
  return 0;
}
