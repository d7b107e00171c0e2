// After a start's hooks: the owner's git identity and dotfiles (once per environment, as
// Codespaces does), then the repository's automations (services and start-triggered tasks).
// Failures here are recorded like a hook's and never stop the environment.
import { isoNow } from "../../clock.ts";
import { startAutomations } from "../../services/automations.ts";
import { getUserGit } from "../../services/user-git.ts";
import type { EnvRow } from "../../store/queries/envs.ts";
import { parseSetup, type SetupState, saveSetup, withHookRun } from "../../store/queries/setups.ts";
import { runDotfiles } from "./clone.ts";
import type { HookRunDeps } from "./hook-runs.ts";
import { ownerActor } from "./owner.ts";

export async function startSetupAutomations(
  d: HookRunDeps,
  row: EnvRow,
  setup: SetupState,
  env: Record<string, string>,
): Promise<void> {
  const user = setup.remoteUser ?? row.user_name;
  const owner = ownerActor(row);
  const identity = owner.userId ? await getUserGit(d.db, owner.userId).catch(() => undefined) : undefined;
  const ran = setup.hooks.some((h) => h.name === "dotfiles");
  if (identity && (identity.gitName || identity.gitEmail || identity.dotfiles) && !ran) {
    const startedAt = isoNow(d.clock);
    let run: { state: "done" | "failed"; exitCode: number };
    try {
      await runDotfiles(d.runner, { id: d.id, user }, identity, { user }, (l) => d.log("dotfiles", l));
      run = { state: "done", exitCode: 0 };
    } catch (err) {
      d.log("dotfiles", `failed: ${(err as Error).message}`);
      run = { state: "failed", exitCode: 1 };
    }
    const fresh = await getEnvAgain(d);
    if (fresh)
      await saveSetup(
        d.db,
        d.id,
        withHookRun(fresh, { name: "dotfiles", ...run, startedAt, finishedAt: isoNow(d.clock) }),
        isoNow(d.clock),
      );
  }
  if (!setup.automations) return;
  for (const trigger of ["postEnvironmentStart", "postDevcontainerStart"] as const) {
    await startAutomations(d.runner, d.id, setup.automations as never, {
      ...(user ? { user } : {}),
      cwd: setup.workspaceFolder,
      env,
      trigger,
      log: (l: string) => d.log("automations", l),
    }).catch((err: Error) => d.log("automations", `could not start: ${err.message}`));
  }
}

async function getEnvAgain(d: HookRunDeps): Promise<SetupState | undefined> {
  const { getEnvById } = await import("../../store/queries/envs.ts");
  const r = await getEnvById(d.db, d.id);
  return r ? parseSetup(r) : undefined;
}
