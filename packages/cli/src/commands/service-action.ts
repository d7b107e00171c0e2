// warren service start|stop|restart ENV SERVICE: asks the environment's supervisor, then prints
// the service's state.
import type { ServiceAction } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function serviceActionCommand(
  action: ServiceAction,
  env: string,
  service: string,
  opts: { json?: boolean },
) {
  const client = await connect();
  const s = await client.serviceAction(env, service, action);
  if (opts.json) printJson(s);
  else process.stdout.write(`${s.name}: ${s.state}${s.message ? ` (${s.message})` : ""}\n`);
  return 0;
}
