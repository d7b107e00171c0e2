// warren ls [--json]
import { connect } from "../connect.ts";
import { envTable, printJson } from "../format.ts";

export async function lsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const envs = await client.listEnvironments();
  if (opts.json) printJson(envs);
  else process.stdout.write(envTable(envs));
  return 0;
}
