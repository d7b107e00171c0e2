// The API answers `wait` requests with the environment even when it failed; the CLI turns that
// into a user error naming the reason, so scripts see a non-zero status.
import { type Environment, WarrenError } from "@warren/protocol";

export function checkFailed(env: Environment): Environment {
  if (env.state !== "failed") return env;
  const cond = [...env.conditions].reverse().find((c) => c.status === "True" && c.message);
  const why = cond ? `${cond.reason}: ${cond.message}` : (env.observed?.reason ?? "no reason given");
  throw new WarrenError(
    "ENV_FAILED",
    `environment ${env.name} failed: ${why} (see \`warren logs ${env.name}\`)`,
    { name: env.name },
  );
}
