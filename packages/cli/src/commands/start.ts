// warren start NAME...: waits until each environment runs. Several start at the same time; one
// that fails is reported and the others still start (exit 1 if any failed).
import type { Environment } from "@warren/protocol";
import { connect } from "../connect.ts";
import { eachName } from "../each-name.ts";
import { checkFailed } from "../failed.ts";
import { printJson } from "../format.ts";

export async function startCommand(names: string[], opts: { json?: boolean }) {
  const client = await connect();
  const { done, status } = await eachName(
    names,
    async (name) => checkFailed(await client.startEnvironment(name)),
    { mode: "parallel", onDone: opts.json ? undefined : printState },
  );
  if (opts.json) printEnvsJson(names, done);
  return status;
}

export function printState(env: Environment): void {
  process.stdout.write(`${env.name} ${env.state}\n`);
}

/** One name prints the object, as before several were allowed; several print an array. */
export function printEnvsJson(names: string[], envs: Environment[]): void {
  if (new Set(names).size > 1) printJson(envs);
  else if (envs[0]) printJson(envs[0]);
}
