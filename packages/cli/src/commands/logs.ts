// warren logs NAME [-f] [-n N] [--json]: init output and lifecycle events.
import { connect } from "../connect.ts";
import { jsonLogWriter } from "../log-json.ts";
import { parsePositiveInt } from "../options.ts";

export async function logsCommand(name: string, opts: { follow?: boolean; tail?: string; json?: boolean }) {
  const tail = opts.tail === undefined ? undefined : parsePositiveInt(opts.tail, "--tail");
  const client = await connect();
  // --json: one {time, source, line} object per line (log-json.ts).
  const json = opts.json ? jsonLogWriter((s) => process.stdout.write(s)) : undefined;
  await client.logs(name, { follow: opts.follow === true, tail }, (chunk) =>
    json ? json.push(chunk) : process.stdout.write(chunk),
  );
  json?.end();
  return 0;
}
