// Live resources and usage: `warren set` and `warren stats`.
//
// Order of a resize: the new limits are committed to the row first (durable desired state: the
// next start or recreate uses them, and a daemon that dies before applying them converges on the
// next reconcile pass, which applies any difference between the row and what the runner reports
// it applied). Then, if the environment runs, they are applied live. When the runner refuses
// (INVALID_ARGUMENT: memory below current use), it guarantees the kernel is unchanged, so the
// row is rolled back to the previous limits (unless a newer change came in meanwhile) and the
// user sees the refusal: nothing changed anywhere. Any other failure keeps the recorded intent.
import {
  checkResourceLimit,
  type Environment,
  type EnvStats,
  formatSize,
  isWarrenError,
  parseSize,
  type RunnerApi,
  type SetResourcesRequest,
  WarrenError,
  wrap,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { runnerSpec } from "../controllers/environment/act.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { getClass } from "../store/queries/classes.ts";
import { type LiveResources, liveResourcesOf, restoreEnvResources } from "../store/queries/env-resources.ts";
import { type EnvRow, listEnvs, toEnvironment } from "../store/queries/envs.ts";
import { type Actor, requireActor } from "./actor.ts";
import { recordResize } from "./env-resize-admission.ts";
import { setEnvIdleTimeout } from "./idle-settings.ts";
import { checkOrgQuota } from "./quotas.ts";
import { canSeeEnv, ownershipOf } from "./scope.ts";

export interface EnvResourceOps {
  setResources(a: Actor, nameOrId: string, req: SetResourcesRequest): Promise<Environment>;
  stats(a: Actor, nameOrId: string): Promise<EnvStats>;
  /** Every running environment the actor may see; ones that stop while being read are left out. */
  statsAll(a: Actor): Promise<EnvStats[]>;
}

export interface EnvResourceDeps {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  logger: Logger;
  find(a: Actor, nameOrId: string): Promise<EnvRow>;
  requireRunning(a: Actor, nameOrId: string): Promise<EnvRow>;
  /** Tells waiters that a row changed. */
  changed(envId?: string): void;
  /**
   * Hands the id to the reconciler. Called only after the live apply settled: a pass started
   * earlier would see the new row beside the old applied limits and apply them itself, racing
   * the refusal-and-rollback below.
   */
  enqueue(id: string): void;
}

function outOfBounds(what: string, value: string, max: string, className: string): WarrenError {
  return new WarrenError(
    "OUT_OF_CLASS_BOUNDS",
    `${what} ${value} exceeds the maximum of ${max} for class "${className}"; ask for at most ${max}`,
    { field: what, className },
  );
}

/** The row's limits with the request applied, checked against the class's bounds. */
export async function resolveResources(
  db: Db,
  row: EnvRow,
  req: SetResourcesRequest,
): Promise<LiveResources> {
  if (req.cpus === undefined && req.memory === undefined && req.pids === undefined) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "nothing to change: give --cpus, --memory, --pids or --idle-timeout",
    );
  }
  // An environment's class is its own organisation's (or a built-in): names are per organisation.
  const cls = await getClass(db, row.class_name, ownershipOf(row).org_id);
  const next = liveResourcesOf(row);
  if (req.cpus !== undefined) {
    checkResourceLimit("cpus", req.cpus);
    if (cls && req.cpus > cls.max_cpus) {
      throw outOfBounds("cpus", String(req.cpus), String(cls.max_cpus), row.class_name);
    }
    next.cpus = req.cpus;
  }
  if (req.memory !== undefined) {
    const bytes = checkResourceLimit("memory", parseSize(req.memory, "memory"));
    if (cls && bytes > cls.max_memory_bytes) {
      throw outOfBounds("memory", formatSize(bytes), formatSize(cls.max_memory_bytes), row.class_name);
    }
    next.memoryBytes = bytes;
  }
  if (req.pids !== undefined) {
    checkResourceLimit("pids", req.pids);
    next.pids = req.pids;
  }
  return next;
}

const same = (a: LiveResources, b: LiveResources) =>
  a.cpus === b.cpus && a.memoryBytes === b.memoryBytes && a.pids === b.pids;

export function createEnvResourceOps(d: EnvResourceDeps): EnvResourceOps {
  const { db, runner, clock } = d;

  async function view(row: EnvRow): Promise<Environment> {
    const env = toEnvironment(row);
    env.observed = await runner.observe(row.id).catch(() => undefined);
    if (!env.observed) delete env.observed;
    return env;
  }

  return {
    async setResources(a, nameOrId, req) {
      let row = await d.find(a, nameOrId);
      if (row.desired === "deleted") {
        throw new WarrenError("NAME_CONFLICT", `environment "${row.name}" is being deleted`, {
          name: row.name,
        });
      }
      // The idle timeout is a setting, not a limit the kernel holds: stored, nothing to apply.
      if (req.idleTimeout !== undefined) {
        row = await setEnvIdleTimeout(db, row, req.idleTimeout, isoNow(clock));
        d.changed(row.id);
        if (req.cpus === undefined && req.memory === undefined && req.pids === undefined) return view(row);
      }
      const before = liveResourcesOf(row);
      const next = await resolveResources(db, row, req);
      if (same(before, next)) return view(row);
      // Only growth is checked: shrinking an environment is how users get back under a quota.
      const grows = { cpus: next.cpus > before.cpus, memory: next.memoryBytes > before.memoryBytes };
      if (grows.cpus || grows.memory) {
        await checkOrgQuota(
          db,
          ownershipOf(row).org_id,
          {
            ...(grows.cpus ? { cpus: next.cpus } : {}),
            ...(grows.memory ? { memoryBytes: next.memoryBytes } : {}),
          },
          row.id,
        );
      }

      const updated = await recordResize(db, row, before, next, isoNow(clock));
      if (!updated) return view(row); // deleted meanwhile
      d.changed(row.id);
      // Only a running environment has limits to change now; any other state picks the row up
      // when it starts (the bundle is rebuilt from the spec) or on the next reconcile pass.
      if (row.state === "running" && row.desired === "running") {
        try {
          await runner.setResources(runnerSpec(updated));
        } catch (err) {
          if (isWarrenError(err) && err.code === "INVALID_ARGUMENT") {
            await restoreEnvResources(db, row.id, before, updated.generation, isoNow(clock));
            d.changed(row.id);
            throw err;
          }
          d.enqueue(row.id);
          if (isWarrenError(err) && err.code === "ENV_NOT_RUNNING") return view(updated); // stopped meanwhile
          d.logger.warn({ envId: row.id, err }, "live resize failed; the reconciler will retry");
          throw wrap(
            `set resources of ${row.name}: recorded, but applying them failed (they are retried)`,
            err,
          );
        }
      }
      d.enqueue(row.id);
      d.logger.info({ envId: row.id, resources: next }, "resources changed");
      return view(updated);
    },

    async stats(a, nameOrId) {
      const row = await d.requireRunning(a, nameOrId);
      return { ...(await runner.stats(row.id)), name: row.name };
    },

    async statsAll(a) {
      requireActor(a, "reading usage");
      const rows = (await listEnvs(db)).filter(
        (r) => r.state === "running" && r.desired === "running" && canSeeEnv(a, r),
      );
      const all = await Promise.all(
        rows.map(async (row): Promise<EnvStats | null> => {
          try {
            return { ...(await runner.stats(row.id)), name: row.name };
          } catch (err) {
            if (isWarrenError(err) && err.code === "ENV_NOT_RUNNING") return null;
            throw err;
          }
        }),
      );
      return all.filter((s) => s !== null);
    },
  };
}
