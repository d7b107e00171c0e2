// warren whoami [--json]: the user, organisation and role the daemon sees for this caller.
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function whoamiCommand(opts: { json?: boolean }) {
  const client = await connect();
  const me = await client.whoami();
  if (opts.json) printJson(me);
  else process.stdout.write(`${me.user.name} (${me.role} of ${me.org.name}, via ${me.via})\n`);
  return 0;
}
