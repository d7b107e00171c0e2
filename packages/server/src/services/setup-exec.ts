// Exec, shell and SSH sessions in a repository environment land in devcontainer.json's
// workspaceFolder with its remoteEnv (the remote user is the environment's user already). What
// the caller asked for explicitly (-w, -e) wins.
import type { ExecRequest } from "@warren/protocol";
import type { EnvRow } from "../store/queries/envs.ts";
import { parseSetup } from "../store/queries/setups.ts";

export function withSetupDefaults(row: Pick<EnvRow, "setup">, req: ExecRequest): ExecRequest {
  const setup = parseSetup(row);
  if (!setup) return req;
  const remoteEnv =
    (setup.merged as { remoteEnv?: Record<string, string | null> } | undefined)?.remoteEnv ?? {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(remoteEnv)) if (typeof v === "string") env[k] = v;
  return {
    ...req,
    cwd: req.cwd ?? setup.workspaceFolder,
    ...(Object.keys(env).length ? { env: { ...env, ...(req.env ?? {}) } } : {}),
  };
}
