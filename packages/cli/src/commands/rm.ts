// warren rm [-f] NAME...: removes each environment and everything it owns on the host, workspace
// included. Without -f the daemon refuses one that runs (ENV_RUNNING names `warren stop` and
// -f). With -f, one whose disk may have changed since its last stop is confirmed on a terminal;
// without a terminal, -f is the confirmation. Each name is tried even when one fails.
import { type ApiClient, type Environment, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { eachName } from "../each-name.ts";
import { prompt } from "../secret-input.ts";

/** Unknown (a runner that does not say) counts as changed while it runs. */
export function changedSinceStop(env: Environment): boolean {
  return env.observed?.workspaceDirty ?? (env.state === "running" || env.observed?.state === "running");
}

export async function rmCommand(names: string[], opts: { force?: boolean }) {
  const client = await connect();
  const force = opts.force === true;
  // One at a time: a confirmation on the terminal must not interleave with another's.
  const { status } = await eachName(names, (name) => removeOne(client, name, force), {
    mode: "sequential",
    onDone: (name) => process.stdout.write(`${name}\n`),
    stopsAll: (err) => err instanceof Cancelled,
  });
  return status;
}

/** ^C at the confirmation: nothing more is removed, not even the names after this one. */
class Cancelled extends WarrenError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

async function removeOne(client: ApiClient, name: string, force: boolean): Promise<string> {
  if (force && process.stdin.isTTY && process.stderr.isTTY) {
    const env = await client.getEnvironment(name);
    if (changedSinceStop(env)) {
      const answer = await prompt(
        `warren: ${env.name} is ${env.state} and its workspace may have changed since it was last stopped; remove it and its workspace? [y/N] `,
        { echo: true },
      ).catch((err: unknown) => {
        throw new Cancelled(err instanceof Error ? err.message : String(err));
      });
      if (!/^y(es)?$/i.test(answer.trim())) {
        throw new WarrenError("INVALID_ARGUMENT", `not removed: ${env.name} is kept`, { name: env.name });
      }
    }
  }
  await client.deleteEnvironment(name, force);
  return name;
}
