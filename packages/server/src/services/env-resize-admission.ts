// A resize that grows an environment is an admission on its runner: the growth must fit in the
// runner's capacity row (memory limits within physical memory × the class's ratio, CPU limits
// within cores × ratio), checked and recorded in one transaction like a create, so a resize and
// a create racing for the same room cannot both win. Shrinking always fits.
import { formatSize, WarrenError } from "@warren/protocol";
import { cpuRatio, memoryRatio } from "../scheduler/filter.ts";
import type { Db } from "../store/db.ts";
import { getClass } from "../store/queries/classes.ts";
import { type LiveResources, updateEnvResources } from "../store/queries/env-resources.ts";
import type { EnvRow } from "../store/queries/envs.ts";
import { lockCapacityIfFits, runnerCapacity } from "../store/queries/fleet-admission.ts";
import { ownershipOf } from "./scope.ts";

/** Records the new limits (after checking that growth fits on the runner); the updated row. */
export async function recordResize(
  db: Db,
  row: EnvRow,
  before: LiveResources,
  next: LiveResources,
  now: string,
): Promise<EnvRow | undefined> {
  const grow = {
    cpus: Math.max(0, next.cpus - before.cpus),
    memoryBytes: Math.max(0, next.memoryBytes - before.memoryBytes),
    diskBytes: 0,
  };
  if (grow.cpus === 0 && grow.memoryBytes === 0) return updateEnvResources(db, row.id, next, now);
  const cls = await getClass(db, row.class_name, ownershipOf(row).org_id);
  const ratio = {
    cpu: cpuRatio(cls?.cpu_overcommit ?? Number.NaN),
    memory: memoryRatio(cls?.memory_overcommit ?? Number.NaN),
  };
  const updated = await db.transaction().execute(async (trx) => {
    if (!(await lockCapacityIfFits(trx, row.runner_id, grow, ratio, false))) return null;
    return updateEnvResources(trx, row.id, next, now);
  });
  if (updated !== null) return updated;
  throw await doesNotFit(db, row, grow, ratio);
}

async function doesNotFit(
  db: Db,
  row: EnvRow,
  grow: { cpus: number; memoryBytes: number },
  ratio: { cpu: number; memory: number },
): Promise<WarrenError> {
  const cap = await runnerCapacity(db, row.runner_id);
  const fix = "ask for less, or stop or shrink other environments on it";
  if (!cap) {
    return new WarrenError(
      "UNSCHEDULABLE",
      `the runner of "${row.name}" has not reported its capacity; retry once it is connected (\`warren fleet ls\`)`,
      { name: row.name },
    );
  }
  const cores = (n: number) => String(Math.round(n * 100) / 100);
  const cpuRoom = cap.cpus * ratio.cpu - cap.alloc.cpus;
  const what =
    grow.cpus > 0 && grow.cpus > cpuRoom + 1e-9
      ? `cpu limits of ${cores(cap.alloc.cpus)} of ${cores(cap.cpus * ratio.cpu)} are allocated (ratio ${ratio.cpu}:1) and this adds ${cores(grow.cpus)}`
      : `memory limits of ${formatSize(cap.alloc.memoryBytes)} of ${formatSize(Math.floor(cap.memoryBytes * ratio.memory))} are allocated (ratio ${ratio.memory}:1) and this adds ${formatSize(grow.memoryBytes)}`;
  return new WarrenError("UNSCHEDULABLE", `cannot grow "${row.name}" on its runner: ${what}; ${fix}`, {
    name: row.name,
    runnerId: row.runner_id,
  });
}
