import type { Environment } from "../api.ts";

/** The environment's state, and the setup phase while a repository environment is being set up. */
export function StateBadge({ env }: { env: Environment }) {
  const phase = env.setup && env.setup.phase !== "ready" ? env.setup.phase : undefined;
  return (
    <span class={`badge state-${env.state}`} data-state={env.state}>
      {env.state}
      {phase && env.state !== "stopped" ? ` · ${phase}` : ""}
    </span>
  );
}
