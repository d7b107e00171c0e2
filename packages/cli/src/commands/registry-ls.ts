// warren registry ls [--json]: registry hosts with stored logins and their usernames (never
// passwords: the API does not return them).
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";

export async function registryLsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const logins = await client.listRegistryLogins();
  if (opts.json) printJson(logins);
  else
    process.stdout.write(
      renderTable(
        ["HOST", "USERNAME", "UPDATED"],
        logins.map((l) => [l.host, l.username, formatAge(l.updatedAt)]),
      ),
    );
  return 0;
}
