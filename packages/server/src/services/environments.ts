// Environment use cases: validate, make the intent durable, enqueue, and (for the HTTP edge)
// wait until the controller has converged. No host effects happen here. Every method takes the
// actor first (services/actor.ts); what it may see is services/scope.ts's answer.

import {
  type CreateEnvRequest,
  DEFAULT_CLASS,
  DEFAULT_EGRESS,
  DEFAULT_ENV_USER,
  type Environment,
  failpoint,
  type RunnerApi,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { RepoCreate } from "../controllers/setup/prebuild-match.ts";
import type { Logger } from "../logger.ts";
import type { FleetView } from "../scheduler/fleet-view.ts";
import type { Db } from "../store/db.ts";
import { cpuBurstColumn, getClass, ioLimitsColumn } from "../store/queries/classes.ts";
import { egressToColumn } from "../store/queries/egress.ts";
import {
  type EnvRow,
  findEnv,
  getEnvById,
  getEnvByName,
  listEnvs,
  parseObserved,
  setDesired,
  toEnvironment,
} from "../store/queries/envs.ts";
import { markUnsettled } from "../store/queries/setups.ts";
import { type Actor, requireActor } from "./actor.ts";
import type { ChangeFeed } from "./changes.ts";
import { createEnvAdmission } from "./env-admission.ts";
import { untilEnvGone } from "./env-gone.ts";
import { createEnvReadOps, type EnvReadOps } from "./env-reads.ts";
import { createEnvResourceOps, type EnvResourceOps } from "./env-resources.ts";
import { runnerIdsOf, withRunnerRefs } from "./env-runner-refs.ts";
import { idleTimeoutArg, newEnvIdleTimeout } from "./idle-settings.ts";
import type { ImageService } from "./images.ts";
import { generateName, newEnvId, validateNewEnvName } from "./names.ts";
import type { PoolClaimer } from "./pool-claim.ts";
import { checkOrgQuota, checkUserRunning } from "./quotas.ts";
import { repoColumns, repoRequests } from "./repo-source.ts";
import { oneRunner, type RunnerFor } from "./runner-for.ts";
import { canSeeEnv, nameOrg, newEnvOwnership, ownershipOf, redactHostDetails } from "./scope.ts";
import { type SettleOptions, type SettleTarget, waitForSettle } from "./settle.ts";

export const DEFAULT_STOP_GRACE_MS = 10_000;

export interface EnvironmentServiceOptions {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  logger: Logger;
  changes: ChangeFeed;
  /** Hands an id to the controller; called after the intent is committed. */
  enqueue: (id: string) => void;
  defaultRuntime: RuntimeName;
  settleTimeoutMs?: number;
  pollMs?: number;
  /** Aborts waits when the daemon shuts down. */
  shutdown?: AbortSignal;
  /** Organisation-scoped images (services/images.ts); without it any image on the runner will do. */
  images?: Pick<ImageService, "ensureForEnv">;
  /** The runner whose host facts admit a create, per organisation; default: `runner`. */
  runnerFor?: RunnerFor;
  /** The organisation's runners for placement (runners/fleet-cache.ts); default: runnerFor's one. */
  fleet?: FleetView;
  /** The runner a placement chose (its image presence and pulls); default: runnerFor's. */
  runnerById?: (runnerId: string) => Pick<RunnerApi, "hasImage" | "pullImage">;
  /** Prebuilds (controllers/setup/prebuild-match.ts): a repository create that matches one starts from it. */
  prebuilds?: { fromTemplate(a: Actor, made: RepoCreate): Promise<RepoCreate> };
  /** Warm pools (services/pool-claim.ts): a plain create that matches one takes over a ready member. */
  pool?: Pick<PoolClaimer, "claim">;
}

export interface EnvironmentService extends EnvResourceOps, EnvReadOps {
  /** Every environment the actor may see (one page: see `page` for paging). */
  list(a: Actor): Promise<Environment[]>;
  /** With `observed` read live from the runner. */
  get(a: Actor, nameOrId: string): Promise<Environment>;
  create(
    a: Actor,
    req: CreateEnvRequest,
    opts?: { wait?: boolean; prebuild?: boolean },
  ): Promise<{ env: Environment; created: boolean }>;
  /** `wait: false` returns once the intent is durable (services/env-wake.ts waits its own way). */
  start(a: Actor, nameOrId: string, opts?: { wait?: boolean }): Promise<Environment>;
  stop(a: Actor, nameOrId: string, graceSeconds?: number): Promise<Environment>;
  delete(a: Actor, nameOrId: string, force: boolean): Promise<void>;
  /** The row, or ENV_NOT_FOUND (also for one the actor may not see). */
  find(a: Actor, nameOrId: string): Promise<EnvRow>;
  /** The row if it is running, else ENV_NOT_RUNNING. */
  requireRunning(a: Actor, nameOrId: string): Promise<EnvRow>;
}

export function createEnvironmentService(o: EnvironmentServiceOptions): EnvironmentService {
  const { db, runner, clock } = o;
  const runnerFor = o.runnerFor ?? oneRunner(runner);
  const repoRequest = repoRequests({ db, clock, prebuilds: o.prebuilds });
  const admit = createEnvAdmission({
    db,
    clock,
    defaultRuntime: o.defaultRuntime,
    runnerFor,
    ...(o.fleet ? { fleet: o.fleet } : {}),
    ...(o.runnerById ? { runnerById: o.runnerById } : {}),
    ...(o.images ? { images: o.images } : {}),
  });
  const settleOpts: SettleOptions = {
    db,
    changes: o.changes,
    clock,
    timeoutMs: o.settleTimeoutMs ?? 120_000,
    pollMs: o.pollMs ?? 1000,
    signal: o.shutdown,
  };

  async function find(a: Actor, nameOrId: string): Promise<EnvRow> {
    const found = await findEnv(db, nameOrId, nameOrg(a));
    // Another organisation's (or, for members, another member's) environment does not exist.
    const row = found && canSeeEnv(a, found) ? found : undefined;
    if (!row) {
      throw new WarrenError(
        "ENV_NOT_FOUND",
        `environment "${nameOrId}" does not exist; run \`warren ls\` to see them`,
        {
          name: nameOrId,
        },
      );
    }
    return row;
  }

  /** The API object, with the name of the runner it was placed on. */
  async function present(row: EnvRow): Promise<Environment> {
    const [env] = await withRunnerRefs(db, [toEnvironment(row)], runnerIdsOf([row]));
    return env as Environment;
  }

  async function settle(row: EnvRow, target: SettleTarget): Promise<Environment> {
    const settled = await waitForSettle(settleOpts, row.id, target);
    return present(settled ?? row);
  }

  async function changeIntent(row: EnvRow, desired: EnvRow["desired"], stopGraceMs?: number): Promise<void> {
    await setDesired(db, row.id, {
      desired,
      now: isoNow(clock),
      ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
    });
    // A repository environment's start has hooks to run: a waiting `up` waits for them.
    if (row.setup && desired === "running" && row.desired !== "running") await markUnsettled(db, row.id);
    o.changes.emit(row.id);
    o.enqueue(row.id);
  }

  async function pickName(a: Actor, req: CreateEnvRequest): Promise<string> {
    if (req.name !== undefined) {
      validateNewEnvName(req.name);
      return req.name;
    }
    for (let i = 0; i < 10; i++) {
      const name = generateName();
      if (!(await getEnvByName(db, name, nameOrg(a)))) return name;
    }
    throw new WarrenError("INTERNAL", "could not generate a free environment name; pass --name");
  }

  async function create(
    a: Actor,
    asked: CreateEnvRequest,
    opts: { wait?: boolean; prebuild?: boolean } = {},
  ) {
    // Refused before anything is read: a runner creates nothing, and neither does a missing actor.
    const own = newEnvOwnership(a);
    const repo = await repoRequest(a, asked, own, opts.prebuild === true);
    const req = repo?.req ?? asked;
    const setup = repo?.setup;
    const org = nameOrg(a);
    const name = await pickName(a, req);
    const cls = await getClass(db, req.className ?? DEFAULT_CLASS, org);
    const pooled = repo ? undefined : await o.pool?.claim({ name, org, own, req, cls });
    if (pooled) return { env: await present(pooled), created: true };
    // A generated name was just seen free: admission need not read it again.
    const askedIdle = req.idleTimeout !== undefined ? idleTimeoutArg(req.idleTimeout) : undefined;
    const outcome = await admit(a, {
      name,
      generatedName: req.name === undefined,
      org,
      own,
      req,
      cls,
      setup,
      row: ({ spec, runnerId, slot, placement, quota }) => {
        const now = isoNow(clock);
        return {
          id: newEnvId(),
          name,
          class_name: spec.className,
          image: spec.image,
          runtime: spec.runtime,
          cpus: spec.resources.cpus,
          memory_bytes: spec.resources.memoryBytes,
          disk_bytes: spec.resources.diskBytes,
          pids: spec.resources.pids,
          slot,
          desired: "running",
          state: "pending",
          conditions: "[]",
          observed: null,
          stop_grace_ms: DEFAULT_STOP_GRACE_MS,
          generation: 1,
          egress: egressToColumn(spec.egress ?? DEFAULT_EGRESS),
          io_limits: ioLimitsColumn(cls),
          cpu_burst: cpuBurstColumn(cls),
          project: spec.project ?? null,
          placement,
          runner_id: runnerId,
          user_name: spec.user ?? DEFAULT_ENV_USER,
          idle_timeout_s: newEnvIdleTimeout(askedIdle, {
            classMax: cls?.idle_timeout_s ?? null,
            className: spec.className,
            orgMax: quota?.max_idle_timeout_s ?? null,
          }),
          last_activity_at: null,
          last_activity_kind: null,
          last_activity_source: null,
          idle_deadline: null,
          ...repoColumns(repo),
          created_at: now,
          updated_at: now,
        };
      },
    });

    let row = outcome.row;
    if (outcome.created) {
      failpoint("row-insert");
      o.logger.info(
        { envId: row.id, name, runnerId: row.runner_id, placement: row.placement },
        "environment created",
      );
      o.changes.emit(row.id);
      o.enqueue(row.id);
    } else if (row.desired !== "running" || row.state === "failed") {
      await changeIntent(row, "running");
    } else {
      o.enqueue(row.id); // level-triggered: a nudge is harmless and heals drift sooner
    }
    if (opts.wait !== false) return { env: await settle(row, "running"), created: outcome.created };
    // By id only: findEnv would first look the id up as a name, a round trip for nothing.
    row = (await getEnvById(db, row.id)) ?? row;
    return { env: await present(row), created: outcome.created };
  }

  async function requireRunning(a: Actor, nameOrId: string): Promise<EnvRow> {
    const row = await find(a, nameOrId);
    if (row.state !== "running" || row.desired !== "running") {
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        `environment "${row.name}" is ${row.state}, not running; start it with \`warren start ${row.name}\``,
        { name: row.name, state: row.state },
      );
    }
    return row;
  }

  const resources = createEnvResourceOps({
    db,
    runner,
    clock,
    logger: o.logger,
    find,
    requireRunning,
    changed: (id?: string) => o.changes.emit(id),
    enqueue: o.enqueue,
  });

  const reads = createEnvReadOps({
    db,
    runner,
    find,
    requireRunning,
    untilGone: (id, signal) =>
      untilEnvGone({ db, changes: o.changes, clock, pollMs: settleOpts.pollMs }, id, signal),
  });

  return {
    ...resources,
    ...reads,
    async list(a) {
      requireActor(a, "listing environments");
      return (await listEnvs(db)).filter((r) => canSeeEnv(a, r)).map(toEnvironment);
    },
    async get(a, nameOrId) {
      const row = await find(a, nameOrId);
      const env = await present(row);
      try {
        env.observed = await runner.observe(row.id);
      } catch (err) {
        o.logger.warn({ envId: row.id, err }, "observe failed; returning the last stored observation");
        const stored = parseObserved(row);
        if (stored) env.observed = stored;
      }
      return redactHostDetails(a, env);
    },
    create,
    async start(a, nameOrId, opts = {}) {
      const row = await find(a, nameOrId);
      if (row.desired === "deleted") throw beingDeleted(row);
      if (row.desired !== "running") {
        const own = ownershipOf(row);
        const ask = { cpus: row.cpus, memoryBytes: row.memory_bytes, diskBytes: row.disk_bytes };
        await checkOrgQuota(db, own.org_id, ask, row.id);
        await checkUserRunning(db, own.org_id, own.owner_id);
      }
      await changeIntent(row, "running");
      if (opts.wait === false) return toEnvironment(row);
      return settle(row, "running");
    },
    async stop(a, nameOrId, graceSeconds) {
      const row = await find(a, nameOrId);
      if (row.desired === "deleted") throw beingDeleted(row);
      const graceMs = graceSeconds !== undefined ? Math.round(graceSeconds * 1000) : DEFAULT_STOP_GRACE_MS;
      await changeIntent(row, "stopped", graceMs);
      return settle(row, "stopped");
    },
    async delete(a, nameOrId, force) {
      const row = await find(a, nameOrId);
      // Removing takes the workspace with it: one that runs (or is about to) goes only when forced.
      if (!force && row.desired === "running" && row.state !== "failed") throw stillRunning(row);
      // A forced delete skips the grace period, also when a graceful delete is already under way.
      const graceMs = force ? 0 : row.desired === "deleted" ? row.stop_grace_ms : DEFAULT_STOP_GRACE_MS;
      await changeIntent(row, "deleted", graceMs);
      await waitForSettle(settleOpts, row.id, "deleted");
    },
    find,
    requireRunning,
  };
}

function stillRunning(row: EnvRow): WarrenError {
  return new WarrenError(
    "ENV_RUNNING",
    `environment "${row.name}" is ${row.state}; removing it deletes its workspace. Stop it first with \`warren stop ${row.name}\`, or remove it anyway with \`warren rm -f ${row.name}\``,
    { name: row.name, state: row.state },
  );
}

function beingDeleted(row: EnvRow): WarrenError {
  return new WarrenError(
    "NAME_CONFLICT",
    `environment "${row.name}" is being deleted; it cannot be started or stopped`,
    {
      name: row.name,
    },
  );
}
