// Named queries for the fleet's API (services/fleet.ts): environment counts per runner, the
// scheduling state admins set, the environments a drain stops, and the autoscaler's decisions.
// Runner rows and their capacity come from runners.ts (runnerRecords).
import type { FleetAutoscaler } from "@warren/protocol";
import type { RunnerSchedule } from "../schema-runners.ts";
import type { Queryable } from "./envs.ts";

/** Environments (not deleted) per runner of the organisation, and how many of them run. */
export async function envCountsByRunner(
  db: Queryable,
  orgId: string,
): Promise<Map<string, { total: number; running: number }>> {
  const rows = await db
    .selectFrom("environments")
    .select((eb) => [
      "runner_id",
      eb.fn.countAll<number>().as("total"),
      eb.fn.sum<number>(eb.case().when("state", "=", "running").then(1).else(0).end()).as("running"),
    ])
    .where("org_id", "=", orgId)
    .where("desired", "!=", "deleted")
    .groupBy("runner_id")
    .execute();
  return new Map(rows.map((r) => [r.runner_id, { total: Number(r.total), running: Number(r.running ?? 0) }]));
}

/** The organisation's runner with that name (or, for a row from before names, that id). */
export async function findRunnerId(
  db: Queryable,
  orgId: string,
  nameOrId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("runners")
    .select("id")
    .where("org_id", "=", orgId)
    .where((eb) =>
      eb.or([eb("name", "=", nameOrId), eb.and([eb("name", "is", null), eb("id", "=", nameOrId)])]),
    )
    .executeTakeFirst();
  return row?.id;
}

export async function setRunnerSchedule(db: Queryable, id: string, schedule: RunnerSchedule): Promise<void> {
  await db.updateTable("runners").set({ schedule }).where("id", "=", id).execute();
}

/** The environments on a runner that are meant to run: what a drain stops. */
export async function runningOn(db: Queryable, runnerId: string): Promise<{ id: string; name: string }[]> {
  return db
    .selectFrom("environments")
    .select(["id", "name"])
    .where("runner_id", "=", runnerId)
    .where("desired", "=", "running")
    .orderBy("name")
    .execute();
}

export async function envStates(
  db: Queryable,
  ids: string[],
): Promise<{ id: string; name: string; state: string; desired: string }[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("environments")
    .select(["id", "name", "state", "desired"])
    .where("id", "in", ids)
    .orderBy("name")
    .execute();
}

/** The autoscaler's last decision for each of the organisation's pools (migration 032). */
export async function autoscalerDecisions(db: Queryable, orgId: string): Promise<FleetAutoscaler[]> {
  const rows = await db
    .selectFrom("autoscaler_state")
    .select(["pool", "desired", "decision", "at"])
    .where("org_id", "=", orgId)
    .orderBy("pool")
    .execute();
  return rows.map((r) => ({ pool: r.pool, desired: Number(r.desired), decision: r.decision, at: r.at }));
}
