// The runner each environment was placed on, as the API shows it ({id, name}): the row records
// only the runner's id, and names live on runners rows, so reads that return environments add
// them here with one query for the whole batch. A runner with no row (embedded mode's in-process
// runner) or no name (a row from before names) is named by its id.
import type { Environment } from "@warren/protocol";
import type { Queryable } from "../store/queries/envs.ts";

export async function withRunnerRefs<T extends Environment[]>(
  db: Queryable,
  envs: T,
  runnerIds: ReadonlyMap<string, string>,
): Promise<T> {
  const ids = [...new Set(runnerIds.values())];
  if (ids.length === 0) return envs;
  const rows = await db.selectFrom("runners").select(["id", "name"]).where("id", "in", ids).execute();
  const names = new Map(rows.map((r) => [r.id, r.name ?? r.id]));
  for (const env of envs) {
    const id = runnerIds.get(env.id);
    if (id !== undefined) env.runner = { id, name: names.get(id) ?? id };
  }
  return envs;
}

/** env id -> runner id, from rows that carry runner_id. */
export function runnerIdsOf(rows: readonly { id: string; runner_id: string }[]): Map<string, string> {
  return new Map(rows.map((r) => [r.id, r.runner_id]));
}
