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
  formatSize,
  type RunnerApi,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { RepoCreate } from "../controllers/setup/prebuild-match.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { lockAdmission } from "../store/queries/admission-lock.ts";
import { getClass } from "../store/queries/classes.ts";
import { egressToColumn } from "../store/queries/egress.ts";
import {
  admissionTotals,
  type EnvRow,
  findEnv,
  getEnvByName,
  insertEnv,
  listEnvs,
  lowestFreeSlot,
  parseObserved,
  setDesired,
  toEnvironment,
} from "../store/queries/envs.ts";
import { getQuotaRow } from "../store/queries/quotas.ts";
import { markUnsettled } from "../store/queries/setups.ts";
import { type Actor, requireActor } from "./actor.ts";
import type { ChangeFeed } from "./changes.ts";
import { untilEnvGone } from "./env-gone.ts";
import { createEnvReadOps, type EnvReadOps } from "./env-reads.ts";
import { createEnvResourceOps, type EnvResourceOps } from "./env-resources.ts";
import { conflictFix, imageMissing, resolveSpec, specDifferences } from "./env-spec.ts";
import { idleTimeoutArg, newEnvIdleTimeout } from "./idle-settings.ts";
import type { ImageService } from "./images.ts";
import { generateName, newEnvId, validateNewEnvName } from "./names.ts";
import { checkOrgQuota, checkUserRunning } from "./quotas.ts";
import { repoColumns, repoDifferences, repoRequests } from "./repo-source.ts";
import { oneRunner, type RunnerFor } from "./runner-for.ts";
import { actorOrg, canSeeEnv, nameOrg, newEnvOwnership, ownershipOf, redactHostDetails } from "./scope.ts";
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
  /** Prebuilds (controllers/setup/prebuild-match.ts): a repository create that matches one starts from it. */
  prebuilds?: { fromTemplate(a: Actor, made: RepoCreate): Promise<RepoCreate> };
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

  async function settle(row: EnvRow, target: SettleTarget): Promise<Environment> {
    const settled = await waitForSettle(settleOpts, row.id, target);
    return toEnvironment(settled ?? row);
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
    const host = runnerFor(actorOrg(a));
    const info = await host.info();
    const spec = resolveSpec({ name, req, cls, info, defaultRuntime: o.defaultRuntime });
    const askedIdle = req.idleTimeout !== undefined ? idleTimeoutArg(req.idleTimeout) : undefined;
    // A prebuild's image (maybe built for it) was checked on the runner by the match.
    if (o.images && !setup?.fromPrebuild) await o.images.ensureForEnv(a, spec.image);
    else if (!(await host.hasImage(spec.image))) throw imageMissing(spec.image);

    // Existence check, admission, slot and insert in one transaction, so two concurrent
    // creates can neither both take a slot nor both pass the disk check.
    const outcome = await db.transaction().execute(async (trx) => {
      // Slots and disk are the runner's own: `info.id` is the runner this create is admitted to.
      await lockAdmission(trx, info.id);
      // Names are unique per organisation (migration 009): another organisation's `dev` is no
      // conflict, and ids, from which every host object is named, stay unique on the server.
      const existing = await getEnvByName(trx, name, org);
      if (existing && !canSeeEnv(a, existing)) {
        // Another member's environment in this organisation; say only that the name is taken.
        throw new WarrenError("NAME_CONFLICT", `the name "${name}" is taken; pick another --name`, { name });
      }
      if (existing) {
        const diffs = existing.setup
          ? repoDifferences(existing, setup)
          : specDifferences(toEnvironment(existing).spec, spec);
        if (existing.desired === "deleted") {
          throw new WarrenError(
            "NAME_CONFLICT",
            `environment "${name}" is being deleted; wait for \`warren rm ${name}\` to finish or pick another --name`,
            { name },
          );
        }
        if (diffs.length > 0) {
          throw new WarrenError(
            "NAME_CONFLICT",
            `environment "${name}" exists with a different spec (${diffs.join("; ")}); ${conflictFix(name, toEnvironment(existing).spec, spec)}`,
            { name, differences: diffs },
          );
        }
        if (existing.desired !== "running") {
          const theirs = ownershipOf(existing);
          await checkUserRunning(trx, theirs.org_id, theirs.owner_id);
        }
        return { row: existing, created: false };
      }
      // Quotas before host capacity: a refusal should name what the user can change.
      const r = spec.resources;
      // Read once for both checks: on PostgreSQL every query here is a round trip held under
      // the admission lock (bench/api).
      const quota = (await getQuotaRow(trx, own.org_id)) ?? null;
      await checkOrgQuota(
        trx,
        own.org_id,
        { cpus: r.cpus, memoryBytes: r.memoryBytes, diskBytes: r.diskBytes },
        undefined,
        quota,
      );
      await checkUserRunning(trx, own.org_id, own.owner_id, quota);
      const { reserved, topSlot } = await admissionTotals(trx, info.id);
      const need = spec.resources.diskBytes;
      if (reserved + need > info.diskFreeBytes) {
        throw new WarrenError(
          "INSUFFICIENT_DISK",
          `not enough disk for "${name}": it needs ${formatSize(need)}, environments already reserve ${formatSize(reserved)} and the host has ${formatSize(info.diskFreeBytes)} free; ask for less with --disk or remove environments with \`warren rm\``,
          { requestedBytes: need, reservedBytes: reserved, freeBytes: info.diskFreeBytes },
        );
      }
      // Each environment needs its own 65,536-id block from the runner's range.
      const slots = Math.floor(info.idRange.size / 65536);
      const slot = await lowestFreeSlot(trx, info.id, slots, topSlot);
      if (slot >= slots) {
        throw new WarrenError(
          "CAPACITY_EXHAUSTED",
          `this runner has room for ${slots} environments and all are taken; remove environments with \`warren rm\` or enlarge the warren block in /etc/subuid and /etc/subgid`,
          { slots },
        );
      }
      const now = isoNow(clock);
      const row: EnvRow = {
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
        project: spec.project ?? null,
        placement: null,
        runner_id: info.id,
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
      await insertEnv(trx, row, own);
      return { row, created: true };
    });

    let row = outcome.row;
    if (outcome.created) {
      failpoint("row-insert");
      o.logger.info({ envId: row.id, name, spec }, "environment created");
      o.changes.emit(row.id);
      o.enqueue(row.id);
    } else if (row.desired !== "running" || row.state === "failed") {
      await changeIntent(row, "running");
    } else {
      o.enqueue(row.id); // level-triggered: a nudge is harmless and heals drift sooner
    }
    if (opts.wait !== false) return { env: await settle(row, "running"), created: outcome.created };
    row = (await findEnv(db, row.id)) ?? row;
    return { env: toEnvironment(row), created: outcome.created };
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
      const env = toEnvironment(row);
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
