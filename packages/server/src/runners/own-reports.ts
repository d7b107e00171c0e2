// A runner is trusted only about its own environments: what it reports about any other id (another
// runner's, another organisation's, or one that does not exist) is dropped before the control plane
// reads it, so a lying runner can at most confuse the environments placed on it.
import type { EnvObserved } from "@warren/protocol";
import type { Db } from "../store/db.ts";

/** The entries of `listed` about environments recorded on `runnerId` (of `orgId`); one per id. */
export async function ownObservations(
  db: Db,
  orgId: string,
  runnerId: string,
  listed: EnvObserved[],
): Promise<EnvObserved[]> {
  const rows = await db
    .selectFrom("environments")
    .select("id")
    .where("runner_id", "=", runnerId)
    .where("org_id", "=", orgId)
    .execute();
  const own = new Set(rows.map((r) => r.id));
  const seen = new Set<string>();
  return listed.filter((o) => {
    if (!own.has(o.id) || seen.has(o.id)) return false;
    seen.add(o.id);
    return true;
  });
}
