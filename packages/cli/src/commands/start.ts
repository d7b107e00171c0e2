// warren start NAME: waits until the environment is running.
import { connect } from "../connect.ts";
import { checkFailed } from "../failed.ts";
import { printJson } from "../format.ts";

export async function startCommand(name: string, opts: { json?: boolean }) {
  const client = await connect();
  const env = checkFailed(await client.startEnvironment(name));
  if (opts.json) printJson(env);
  else process.stdout.write(`${env.name} ${env.state}\n`);
  return 0;
}
