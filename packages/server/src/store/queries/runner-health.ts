// Named queries for runner health: the heartbeat's one batched write of what changed, and the
// unreachable mark (runners.unreachable_since, migration 031) with the condition it puts on the
// runner's environments. Conditions are rewritten compare-and-set (only if unchanged since read),
// so a reconcile pass writing its own condition at the same moment is never overwritten.
import type { Condition, RunnerInfo } from "@warren/protocol";
import type { Queryable } from "./envs.ts";

export interface RunnerReport {
  id: string;
  orgId: string;
  info: RunnerInfo;
  imageRefs: string[];
}

/**
 * Writes the reports of runners this replica holds, in one statement whatever their number. A row
 * another replica took over meanwhile is left alone (the conflict update is conditional).
 */
export async function persistRunnerReports(
  db: Queryable,
  replica: string,
  now: string,
  reports: RunnerReport[],
): Promise<void> {
  if (reports.length === 0) return;
  await db
    .insertInto("runners")
    .values(
      reports.map((r) => ({
        id: r.id,
        org_id: r.orgId,
        hostname: r.info.hostname,
        info: JSON.stringify(r.info),
        image_refs: JSON.stringify(r.imageRefs),
        labels: JSON.stringify(r.info.labels ?? {}),
        replica,
        seen_at: now,
      })),
    )
    .onConflict((oc) =>
      oc
        .column("id")
        .doUpdateSet((eb) => ({
          hostname: eb.ref("excluded.hostname"),
          info: eb.ref("excluded.info"),
          image_refs: eb.ref("excluded.image_refs"),
          labels: eb.ref("excluded.labels"),
          seen_at: eb.ref("excluded.seen_at"),
        }))
        .where("runners.replica", "=", replica),
    )
    .execute();
}

export interface LostRunner {
  id: string;
  orgId: string;
  name: string | null;
  since: string;
}

/**
 * Marks runners unreachable: released (no replica) for longer than the grace period, or held by a
 * replica that stopped refreshing them for the stale period plus the grace. One conditional
 * statement, so of several replicas exactly one marks each runner (and tells its environments).
 * The mark is the moment the control plane last saw it.
 */
export async function markUnreachable(
  db: Queryable,
  p: { releasedBefore: string; staleBefore: string },
): Promise<LostRunner[]> {
  const rows = await db
    .updateTable("runners")
    .set((eb) => ({ unreachable_since: eb.ref("seen_at") }))
    .where("unreachable_since", "is", null)
    .where((eb) =>
      eb.or([
        eb.and([eb("replica", "is", null), eb("seen_at", "<", p.releasedBefore)]),
        eb.and([eb("replica", "is not", null), eb("seen_at", "<", p.staleBefore)]),
      ]),
    )
    .returning(["id", "org_id", "name", "seen_at"])
    .execute();
  return rows.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, since: r.seen_at }));
}

/** Environments of unreachable runners that lack the condition of type `type`. */
export async function unmarkedEnvsOfLostRunners(
  db: Queryable,
  type: string,
): Promise<{ id: string; conditions: string; runnerName: string; since: string }[]> {
  const rows = await db
    .selectFrom("environments")
    .innerJoin("runners", "runners.id", "environments.runner_id")
    .select([
      "environments.id",
      "environments.conditions",
      "runners.id as runner_id",
      "runners.name",
      "runners.unreachable_since",
    ])
    .where("runners.unreachable_since", "is not", null)
    .where("environments.conditions", "not like", `%"${type}"%`)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    conditions: r.conditions,
    runnerName: r.name ?? r.runner_id,
    since: r.unreachable_since ?? "",
  }));
}

/** A runner's environments that carry a condition of type `type`. */
export async function envsWithCondition(
  db: Queryable,
  runnerId: string,
  type: string,
): Promise<{ id: string; conditions: string }[]> {
  return db
    .selectFrom("environments")
    .select(["id", "conditions"])
    .where("runner_id", "=", runnerId)
    .where("conditions", "like", `%"${type}"%`)
    .execute();
}

/** Replaces an environment's conditions only if they are still `before`; whether it wrote. */
export async function swapConditions(
  db: Queryable,
  id: string,
  before: string,
  after: Condition[],
): Promise<boolean> {
  const r = await db
    .updateTable("environments")
    .set({ conditions: JSON.stringify(after) })
    .where("id", "=", id)
    .where("conditions", "=", before)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** The runner is back: its mark goes (the attaching replica's upsert also clears it). */
export async function clearUnreachable(db: Queryable, runnerId: string): Promise<void> {
  await db
    .updateTable("runners")
    .set({ unreachable_since: null })
    .where("id", "=", runnerId)
    .where("unreachable_since", "is not", null)
    .execute();
}
