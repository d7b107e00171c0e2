// warren rm [-f] NAME: removes the environment and everything it owns on the host.
import { connect } from "../connect.ts";

export async function rmCommand(name: string, opts: { force?: boolean }) {
  const client = await connect();
  await client.deleteEnvironment(name, opts.force === true);
  process.stdout.write(`${name}\n`);
  return 0;
}
