// Queries for live resource changes. A change of limits is a change of intent, so it bumps the
// generation like setDesired does: a reconcile pass that read the old row cannot mark the
// environment failed over the user's newer request.
import { type EnvRow, getEnvById, type Queryable } from "./envs.ts";

export interface LiveResources {
  cpus: number;
  memoryBytes: number;
  pids: number;
}

export function liveResourcesOf(row: Pick<EnvRow, "cpus" | "memory_bytes" | "pids">): LiveResources {
  return { cpus: row.cpus, memoryBytes: row.memory_bytes, pids: row.pids };
}

/** Records new limits; returns the updated row. */
export async function updateEnvResources(
  db: Queryable,
  id: string,
  r: LiveResources,
  now: string,
): Promise<EnvRow | undefined> {
  await db
    .updateTable("environments")
    .set((eb) => ({
      cpus: r.cpus,
      memory_bytes: r.memoryBytes,
      pids: r.pids,
      generation: eb("generation", "+", 1),
      updated_at: now,
    }))
    .where("id", "=", id)
    .execute();
  return getEnvById(db, id);
}

/**
 * Puts back the limits a refused change replaced, only if nothing changed the intent since
 * (`generation` is the one our change wrote). Returns false when a newer change won.
 */
export async function restoreEnvResources(
  db: Queryable,
  id: string,
  r: LiveResources,
  generation: number,
  now: string,
): Promise<boolean> {
  const res = await db
    .updateTable("environments")
    .set({ cpus: r.cpus, memory_bytes: r.memoryBytes, pids: r.pids, updated_at: now })
    .where("id", "=", id)
    .where("generation", "=", generation)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}
