// A runner is trusted only about its own organisation's environments: what it reports about any
// other id (another organisation's environment, or one that does not exist) is dropped before the
// control plane reads it, so a lying runner can at most confuse its own organisation.
import type { EnvObserved } from "@warren/protocol";
import type { Db } from "../store/db.ts";

/** The entries of `listed` about `orgId`'s environments; one entry per id (the first). */
export async function ownObservations(db: Db, orgId: string, listed: EnvObserved[]): Promise<EnvObserved[]> {
  const rows = await db.selectFrom("environments").select("id").where("org_id", "=", orgId).execute();
  const own = new Set(rows.map((r) => r.id));
  const seen = new Set<string>();
  return listed.filter((o) => {
    if (!own.has(o.id) || seen.has(o.id)) return false;
    seen.add(o.id);
    return true;
  });
}
