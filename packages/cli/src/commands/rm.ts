// warren rm [-f] NAME: removes the environment and everything it owns on the host, workspace
// included. Without -f the daemon refuses one that runs (ENV_RUNNING names `warren stop` and
// -f). With -f, one whose disk may have changed since its last stop is confirmed on a terminal;
// without a terminal, -f is the confirmation.
import { type Environment, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { prompt } from "../secret-input.ts";

/** Unknown (a runner that does not say) counts as changed while it runs. */
export function changedSinceStop(env: Environment): boolean {
  return env.observed?.workspaceDirty ?? (env.state === "running" || env.observed?.state === "running");
}

export async function rmCommand(name: string, opts: { force?: boolean }) {
  const client = await connect();
  const force = opts.force === true;
  if (force && process.stdin.isTTY && process.stderr.isTTY) {
    const env = await client.getEnvironment(name);
    if (changedSinceStop(env)) {
      const answer = await prompt(
        `warren: ${env.name} is ${env.state} and its workspace may have changed since it was last stopped; remove it and its workspace? [y/N] `,
        { echo: true },
      );
      if (!/^y(es)?$/i.test(answer.trim())) {
        throw new WarrenError("INVALID_ARGUMENT", `not removed: ${env.name} is kept`, { name: env.name });
      }
    }
  }
  await client.deleteEnvironment(name, force);
  process.stdout.write(`${name}\n`);
  return 0;
}
