// Keyset pagination over environments in a stable (created_at, id) order. Keyset, not offset,
// so a page boundary does not shift when environments are created or removed between pages.
import type { EnvState } from "@warren/protocol";
import type { EnvRow, Queryable } from "./envs.ts";

export interface EnvPageQuery {
  limit: number;
  after?: { createdAt: string; id: string };
  state?: EnvState;
  /** Name prefix; the caller ensures it holds no LIKE wildcards (names are [a-z0-9-]). */
  namePrefix?: string;
  /** Normalized (protocol project.ts). */
  project?: string;
  /** Only this organisation's environments (names, and so name prefixes, are per organisation). */
  orgId?: string;
}

/** Up to `limit + 1` rows: the extra one tells the caller another page follows. */
export function listEnvPage(db: Queryable, q: EnvPageQuery): Promise<EnvRow[]> {
  let query = db.selectFrom("environments").selectAll();
  if (q.orgId !== undefined) query = query.where("org_id", "=", q.orgId);
  if (q.state !== undefined) query = query.where("state", "=", q.state);
  if (q.namePrefix) query = query.where("name", "like", `${q.namePrefix}%`);
  if (q.project !== undefined) query = query.where("project", "=", q.project);
  const after = q.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb("created_at", ">", after.createdAt),
        eb.and([eb("created_at", "=", after.createdAt), eb("id", ">", after.id)]),
      ]),
    );
  }
  return query
    .orderBy("created_at")
    .orderBy("id")
    .limit(q.limit + 1)
    .execute();
}
