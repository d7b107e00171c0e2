// Project secrets are keyed by normalizeProject(url) (protocol project.ts), the same form an
// environment's project is stored in. Rows written before keys were normalized hold the URL as it
// was typed, and SQL cannot re-key them: the owner is bound into each row's AES-GCM associated
// data. So lookups match every stored spelling of a project, and a write under the normal form
// removes older spellings of the same name (services/secrets.ts).
import { normalizeProject } from "@warren/protocol";
import type { Db } from "../store/db.ts";

export function sameProject(stored: string, project: string): boolean {
  try {
    return normalizeProject(stored) === project;
  } catch {
    return false; // a stored value the normalizer now refuses matches no environment
  }
}

/** The stored `owner` values of an organisation's project secrets that name `project`. */
export async function projectOwners(db: Db, orgId: string, project: string): Promise<string[]> {
  const rows = await db
    .selectFrom("secrets")
    .select("owner")
    .distinct()
    .where("org_id", "=", orgId)
    .where("scope", "=", "project")
    .execute();
  return rows.map((r) => r.owner).filter((o) => sameProject(o, project));
}
