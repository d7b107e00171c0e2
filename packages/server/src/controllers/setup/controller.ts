// The setup controller of repository environments: a queue of environment ids; each pass reads
// the row, plans one step (plan.ts) and takes it (clone, configure, build, restart, hooks). A step
// that fails for good leaves phase `failed` and a SetupFailed condition (the environment keeps
// running, reachable); a hook that fails leaves HookFailed. Retries back off like the
// environment controller's.
import {
  type Condition,
  HOOK_FAILED_CONDITION,
  type HookRun,
  type LifecycleHookName,
  type RunnerApi,
  WarrenError,
  wrap,
} from "@warren/protocol";
import { type Clock, isoNow, type TimerHandle } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { UserActor } from "../../services/actor.ts";
import type { ChangeFeed } from "../../services/changes.ts";
import type { UploadService } from "../../services/uploads.ts";
import type { Db } from "../../store/db.ts";
import {
  getEnvById,
  listEnvs,
  parseConditions,
  parseObserved,
  setConditions,
  setObserved,
  setState,
} from "../../store/queries/envs.ts";
import { parseSetup, type SetupState, saveRunSpec, saveSetup } from "../../store/queries/setups.ts";
import { durableObserved, runnerSpec } from "../environment/act.ts";
import { isTerminal } from "../environment/controller.ts";
import { createWorkQueue } from "../queue.ts";
import { configure } from "./configure.ts";
import { runSetupHooks } from "./hook-runs.ts";
import { applyHostRequirements } from "./host-requirements.ts";
import { ownerActor } from "./owner.ts";
import { planSetup } from "./plan.ts";
import { updateStep } from "./prebuild-update.ts";
import { createStepLog } from "./step-log.ts";
import { buildStep, cloneStep, restartStep } from "./steps.ts";

export const SETUP_FAILED_CONDITION = "SetupFailed";

export interface SetupControllerOptions {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  logger: Logger;
  changes: ChangeFeed;
  uploads?: UploadService;
  /** Pulls an image for an organisation (ImageService.ensureForEnv as the environment's owner). */
  pull(owner: UserActor, ref: string): Promise<void>;
  credentialFor?(owner: UserActor, ref: string): Promise<{ username: string; password: string } | undefined>;
  resyncMs?: number;
  /** As the environment controller's: "elsewhere" when another replica holds its runner. */
  ownership?: (id: string) => Promise<"mine" | "elsewhere" | "none">;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface SetupController {
  start(): Promise<void>;
  enqueue(id: string): void;
  /** Reruns configure, build, restart and the create-time hooks (`warren rebuild`). */
  rebuild(id: string): Promise<void>;
  /** Runs one hook now (`warren hook run`); resolves with its exit status. */
  runHook(id: string, hook: LifecycleHookName): Promise<number>;
  /** An interactive session began: postAttachCommand, in the background. */
  attached(id: string): void;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function createSetupController(opts: SetupControllerOptions): SetupController {
  const { db, runner, clock, logger } = opts;
  let closed = false;
  let resyncTimer: TimerHandle | undefined;
  const queue = createWorkQueue<string>({
    handler: reconcile,
    clock,
    concurrency: 4,
    ...(opts.baseDelayMs ? { baseDelayMs: opts.baseDelayMs } : {}),
    maxDelayMs: opts.maxDelayMs ?? 60_000,
    onError: (id, err, attempt, retryInMs) =>
      logger.warn({ envId: id, err, attempt, retryInMs }, "setup step failed; retrying"),
  });

  const save = async (id: string, s: SetupState) => {
    await saveSetup(db, id, s, isoNow(clock));
    opts.changes.emit(id);
  };

  async function reconcile(id: string): Promise<void> {
    const row = await getEnvById(db, id);
    const setup = row && parseSetup(row);
    if (!row || !setup) return;
    // Server mode: the replica holding the environment's runner takes its steps, no other.
    if (opts.ownership && (await opts.ownership(id)) === "elsewhere") return;
    const observed = parseObserved(row);
    const actions = planSetup({
      setup,
      env: {
        desired: row.desired,
        state: row.state,
        image: row.image,
        ...(observed?.startedAt ? { startedAt: observed.startedAt } : {}),
      },
    });
    const action = actions[0];
    if (!action) return;
    const log = createStepLog(runner, id, logger);
    const ctx = {
      runner,
      envId: id,
      user: row.user_name,
      log,
      orgId: ownerActor(row).orgId,
      ...(opts.uploads ? { uploads: opts.uploads } : {}),
    };
    try {
      let next: SetupState | undefined;
      switch (action.type) {
        case "clone":
          next = await cloneStep(ctx, setup);
          break;
        case "configure":
          next = await configure(
            {
              ...ctx,
              pull: (ref) => opts.pull(ownerActor(row), ref),
              credentialFor: async (ref) => opts.credentialFor?.(ownerActor(row), ref),
            },
            setup,
          );
          if (!setup.classGiven) {
            const hr = (next.merged as { hostRequirements?: unknown } | undefined)?.hostRequirements;
            const picked = await applyHostRequirements(db, row, hr, isoNow(clock));
            if (picked) log("configure", `hostRequirements: class ${picked}`);
          }
          break;
        case "build":
          next = await buildStep(ctx, setup);
          break;
        case "update":
          next = await updateStep({ ...ctx, user: setup.remoteUser ?? row.user_name }, setup);
          break;
        case "restart": {
          const r = await restartStep(
            {
              ...ctx,
              spec: runnerSpec(row),
              save: async (o) => {
                await saveRunSpec(db, id, o, isoNow(clock));
                const fresh = await getEnvById(db, id);
                return runnerSpec(fresh ?? row);
              },
            },
            setup,
          );
          next = r.setup;
          // The new start's identity before the hooks are planned against it (else the
          // bootstrap container's start would look like one whose postStart never ran).
          await setObserved(db, id, durableObserved(await runner.observe(id)));
          break;
        }
        case "createHooks":
        case "startHooks":
          await runSetupHooks({
            db,
            runner,
            clock,
            log,
            changes: opts.changes,
            id,
            create: action.type === "createHooks",
          });
          break;
      }
      if (next) await save(id, { ...next, failures: 0 });
      await log.flush();
      await clearCondition(id, SETUP_FAILED_CONDITION);
      queue.add(id);
    } catch (err) {
      await log.flush();
      const wrapped = wrap(`${action.type} ${row.name}`, err);
      if (!isTerminal(wrapped)) throw wrapped;
      log("setup", `failed: ${wrapped.message}`);
      await log.flush();
      await save(id, { ...setup, phase: "failed", message: wrapped.message });
      await addCondition(id, {
        type: SETUP_FAILED_CONDITION,
        status: "True",
        reason: wrapped.code,
        message: `${action.type} failed: ${wrapped.message}`,
        at: isoNow(clock),
      });
    }
  }

  async function addCondition(id: string, c: Condition): Promise<void> {
    const row = await getEnvById(db, id);
    if (!row) return;
    await setConditions(db, id, [...parseConditions(row).filter((x) => x.type !== c.type), c]);
    opts.changes.emit(id);
  }

  async function clearCondition(id: string, type: string): Promise<void> {
    const row = await getEnvById(db, id);
    if (!row || !parseConditions(row).some((c) => c.type === type)) return;
    await setConditions(
      db,
      id,
      parseConditions(row).filter((c) => c.type !== type),
    );
    opts.changes.emit(id);
  }

  async function resync(): Promise<void> {
    try {
      for (const r of await listEnvs(db)) if (r.setup) queue.add(r.id);
    } catch (err) {
      logger.error({ err }, "setup resync failed");
    }
    if (!closed) resyncTimer = clock.setTimeout(() => void resync(), opts.resyncMs ?? 15_000);
  }

  opts.changes.onEmit((id) => {
    if (id && !closed) queue.add(id);
  });

  return {
    async start() {
      await resync();
    },
    enqueue: (id) => queue.add(id, { now: true }),
    async rebuild(id) {
      const row = await getEnvById(db, id);
      const setup = row && parseSetup(row);
      if (!row || !setup) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "this environment was not made from a repository; nothing to rebuild",
          {},
        );
      }
      // Configure again from the clone; a clone that never finished is redone.
      const cloned =
        !["clone"].includes(setup.phase) &&
        !(setup.phase === "failed" && setup.hooks.length === 0 && !setup.merged);
      const { created: _c, message: _m, build: _b, skipHooks: _s, fromPrebuild: _f, ...rest } = setup;
      await save(id, { ...rest, phase: cloned ? "configure" : "clone", hooks: [], settled: false });
      await clearCondition(id, HOOK_FAILED_CONDITION);
      await clearCondition(id, SETUP_FAILED_CONDITION);
      await setState(db, id, { state: row.state, now: isoNow(clock) });
      queue.add(id, { now: true });
    },
    async runHook(id, hook) {
      const { runOneHook } = await import("./hook-runs.ts");
      return runOneHook(
        { db, runner, clock, log: createStepLog(runner, id, logger), changes: opts.changes, id },
        hook,
      );
    },
    attached(id) {
      void import("./hook-runs.ts")
        .then(({ runOneHook }) =>
          runOneHook(
            { db, runner, clock, log: createStepLog(runner, id, logger), changes: opts.changes, id },
            "postAttachCommand",
            {
              ifConfigured: true,
            },
          ),
        )
        .catch((err: unknown) => logger.warn({ envId: id, err }, "postAttachCommand could not run"));
    },
    idle: () => queue.idle(),
    async close() {
      closed = true;
      if (resyncTimer) clock.clearTimeout(resyncTimer);
      await queue.close();
    },
  };
}

export type { HookRun };
