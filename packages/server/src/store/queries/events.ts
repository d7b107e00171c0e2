import type { Queryable } from "./envs.ts";

export interface EnvEvent {
  id: number;
  envId: string;
  at: string;
  message: string;
}

export async function insertEvent(db: Queryable, envId: string, at: string, message: string): Promise<void> {
  await db.insertInto("events").values({ env_id: envId, at, message }).execute();
}

export async function listEvents(db: Queryable, envId: string): Promise<EnvEvent[]> {
  const rows = await db.selectFrom("events").selectAll().where("env_id", "=", envId).orderBy("id").execute();
  return rows.map((r) => ({ id: r.id, envId: r.env_id, at: r.at, message: r.message }));
}
