// warren ssh-key ls [--all] [--json]: your SSH keys; --all (admins): every member's.
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";

export async function sshKeyLsCommand(opts: { all?: boolean; json?: boolean }) {
  const client = await connect();
  const keys = await client.listSshKeys(opts.all ? { all: true } : {});
  if (opts.json) printJson(keys);
  else
    process.stdout.write(
      renderTable(
        ["ID", "NAME", "TYPE", "FINGERPRINT", ...(opts.all ? ["USER"] : []), "ADDED"],
        keys.map((k) => [
          k.id,
          k.name,
          `${k.type} ${k.bits}`,
          k.fingerprint,
          ...(opts.all ? [k.userId] : []),
          formatAge(k.createdAt),
        ]),
      ),
    );
  return 0;
}
