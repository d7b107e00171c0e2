// warren stop NAME... [--time S]: SIGTERM, then kill after the grace period; the disk is kept.
// Several stop at the same time; one that fails is reported and the others still stop.
import { connect } from "../connect.ts";
import { eachName } from "../each-name.ts";
import { parsePositiveInt } from "../options.ts";
import { printEnvsJson, printState } from "./start.ts";

export async function stopCommand(names: string[], opts: { json?: boolean; time?: string }) {
  const grace =
    opts.time === undefined ? undefined : opts.time === "0" ? 0 : parsePositiveInt(opts.time, "--time");
  const client = await connect();
  const { done, status } = await eachName(names, (name) => client.stopEnvironment(name, grace), {
    mode: "parallel",
    onDone: opts.json ? undefined : printState,
  });
  if (opts.json) printEnvsJson(names, done);
  return status;
}
