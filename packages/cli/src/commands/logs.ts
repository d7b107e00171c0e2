// warren logs NAME [-f] [-n N]: init output and lifecycle events.
import { connect } from "../connect.ts";
import { parsePositiveInt } from "../options.ts";

export async function logsCommand(name: string, opts: { follow?: boolean; tail?: string }) {
  const tail = opts.tail === undefined ? undefined : parsePositiveInt(opts.tail, "--tail");
  const client = await connect();
  await client.logs(name, { follow: opts.follow === true, tail }, (chunk) => process.stdout.write(chunk));
  return 0;
}
