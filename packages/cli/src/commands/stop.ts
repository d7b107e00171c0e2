// warren stop NAME [--time S]: SIGTERM, then kill after the grace period; the disk is kept.
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { parsePositiveInt } from "../options.ts";

export async function stopCommand(name: string, opts: { json?: boolean; time?: string }) {
  const grace =
    opts.time === undefined ? undefined : opts.time === "0" ? 0 : parsePositiveInt(opts.time, "--time");
  const client = await connect();
  const env = await client.stopEnvironment(name, grace);
  if (opts.json) printJson(env);
  else process.stdout.write(`${env.name} ${env.state}\n`);
  return 0;
}
