// warren token ls [--json]: the caller's tokens (and, for admins, runner tokens); never secrets.
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function tokenLsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const tokens = await client.listTokens();
  if (opts.json) printJson(tokens);
  else
    process.stdout.write(
      renderTable(
        ["ID", "KIND", "NAME", "SCOPES", "EXPIRES", "STATE"],
        tokens.map((t) => [
          t.id,
          t.kind,
          t.name,
          // Older servers send no scopes; empty means the user's full access.
          t.scopes?.length ? t.scopes.join(",") : "all",
          t.expiresAt,
          t.revokedAt ? "revoked" : stateOf(t.expiresAt),
        ]),
      ),
    );
  return 0;
}

function stateOf(expiresAt: string): string {
  return expiresAt <= new Date().toISOString() ? "expired" : "active";
}
