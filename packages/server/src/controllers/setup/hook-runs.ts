// When lifecycle hooks run: the create-time ones once per environment (then this start's), the
// start-time ones once per start, postAttach per interactive session, any one on request. Each
// run is recorded on the setup row; a failure leaves a HookFailed condition naming the hook and
// its exit status, and the environment running.
import {
  type Condition,
  HOOK_FAILED_CONDITION,
  type HookRun,
  type LifecycleHookName,
  type RunnerApi,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../../clock.ts";
import type { ChangeFeed } from "../../services/changes.ts";
import type { Db } from "../../store/db.ts";
import { type EnvRow, getEnvById, parseConditions, setConditions } from "../../store/queries/envs.ts";
import { parseSetup, type SetupState, saveSetup, withHookRun } from "../../store/queries/setups.ts";
import { startSetupAutomations } from "./automations-start.ts";
import {
  CREATE_HOOKS,
  type HookContext,
  hookCommands,
  probeEnv,
  remoteEnvOf,
  runHook,
} from "./hook-context.ts";
import type { StepLog } from "./step-log.ts";

export interface HookRunDeps {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  log: StepLog;
  changes: ChangeFeed;
  id: string;
}

async function load(d: HookRunDeps): Promise<{ row: EnvRow; setup: SetupState }> {
  const row = await getEnvById(d.db, d.id);
  const setup = row && parseSetup(row);
  if (!row || !setup)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "this environment was not made from a repository; it has no hooks",
      {},
    );
  return { row, setup };
}

function hookContext(d: HookRunDeps, row: EnvRow, setup: SetupState): HookContext {
  return {
    runner: d.runner,
    envId: d.id,
    user: setup.remoteUser ?? row.user_name,
    cwd: setup.workspaceFolder,
    log: d.log,
    now: () => isoNow(d.clock),
    record: async (run: HookRun) => {
      // Re-read: another hook (postAttach) may have saved since.
      const fresh = await getEnvById(d.db, d.id);
      const s = fresh && parseSetup(fresh);
      if (!s) return;
      await saveSetup(d.db, d.id, withHookRun(s, run), isoNow(d.clock));
      await noteHookCondition(d, run);
      d.changes.emit(d.id);
    },
  };
}

async function noteHookCondition(d: HookRunDeps, run: HookRun): Promise<void> {
  if (run.state === "running") return;
  const row = await getEnvById(d.db, d.id);
  if (!row) return;
  const others = parseConditions(row).filter(
    (c) => !(c.type === HOOK_FAILED_CONDITION && c.reason === run.name),
  );
  const failed: Condition[] =
    run.state === "failed"
      ? [
          {
            type: HOOK_FAILED_CONDITION,
            status: "True",
            reason: run.name,
            message: `${run.name} failed: exit ${run.exitCode}`,
            at: isoNow(d.clock),
          },
        ]
      : [];
  await setConditions(d.db, d.id, [...others, ...failed]);
}

async function update(d: HookRunDeps, change: (s: SetupState) => SetupState): Promise<void> {
  const row = await getEnvById(d.db, d.id);
  const s = row && parseSetup(row);
  if (!s) return;
  await saveSetup(d.db, d.id, change(s), isoNow(d.clock));
  d.changes.emit(d.id);
}

/** The create-time hooks (once) or this start's hooks, then dotfiles and automations. */
export async function runSetupHooks(d: HookRunDeps & { create: boolean }): Promise<void> {
  const { row, setup } = await load(d);
  const observed = await d.runner.observe(d.id);
  const startedFor = observed.startedAt ?? "";
  const merged = (setup.merged ?? {}) as Parameters<typeof runHook>[1];
  const ctx = hookContext(d, row, setup);
  await update(d, (s) => ({ ...s, settled: false }));
  const waitFor = (merged.waitFor ?? "updateContentCommand") as LifecycleHookName;
  const order = hookOrder(setup, d.create);
  // The probe costs an exec: only when something will run with the environment it finds.
  const needsEnv = order.some((h) => hookCommands(merged, h).length > 0) || setup.automations !== undefined;
  const env = remoteEnvOf(merged, needsEnv ? await probeEnv(ctx, merged.userEnvProbe) : {});
  let failed = false;
  let readyMarked = false;
  const markReady = async () => {
    if (readyMarked) return;
    readyMarked = true;
    await update(d, (s) => ({ ...s, phase: "ready" }));
  };
  // Started from a prebuild whose content is current: ready as soon as what it waits for ran there.
  if (setup.skipHooks?.includes(waitFor)) await markReady();
  for (const hook of order) {
    const code = await runHook(ctx, merged, hook, env);
    if (code !== undefined && code !== 0) {
      failed = true;
      break;
    }
    if (hook === waitFor) await markReady();
  }
  await update(d, (s) => ({ ...s, created: true, startedFor }));
  await markReady();
  // A prebuild's disk becomes a template: no dotfiles (personal files) and no automations.
  if (!failed && !setup.prebuild) {
    await startSetupAutomations(d, row, setup, env);
  }
  await update(d, (s) => ({ ...s, settled: true }));
  await d.log.flush();
}

/**
 * The hooks of one pass: a prebuild runs only what can be done ahead of time (onCreate and
 * updateContent); an environment started from one skips what its prebuild ran.
 */
export function hookOrder(
  setup: Pick<SetupState, "prebuild" | "skipHooks">,
  create: boolean,
): LifecycleHookName[] {
  if (setup.prebuild) return ["onCreateCommand", "updateContentCommand"];
  const skip = new Set(setup.skipHooks ?? []);
  return [...(create ? CREATE_HOOKS.filter((h) => !skip.has(h)) : []), "postStartCommand"];
}

/** One hook now, on request or at attach; its exit status (0 when it has no command). */
export async function runOneHook(
  d: HookRunDeps,
  hook: LifecycleHookName,
  o: { ifConfigured?: boolean } = {},
): Promise<number> {
  const { row, setup } = await load(d);
  const merged = (setup.merged ?? {}) as Parameters<typeof runHook>[1];
  const ctx = hookContext(d, row, setup);
  if (o.ifConfigured && !(merged[`${hook}s`]?.length ?? 0)) return 0;
  const env = remoteEnvOf(merged, await probeEnv(ctx, merged.userEnvProbe));
  return (await runHook(ctx, merged, hook, env)) ?? 0;
}
