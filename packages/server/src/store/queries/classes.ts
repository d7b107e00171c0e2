import type { ClassSpec, RuntimeName } from "@warren/protocol";
import type { Selectable } from "kysely";
import type { ClassesTable } from "../schema.ts";
import { egressFromColumn } from "./egress.ts";
import type { Queryable } from "./envs.ts";

export type ClassRow = Selectable<ClassesTable>;

export function toClassSpec(row: ClassRow): ClassSpec {
  const spec: ClassSpec = {
    name: row.name,
    cpus: row.cpus,
    memoryBytes: row.memory_bytes,
    diskBytes: row.disk_bytes,
    pids: row.pids,
    maxCpus: row.max_cpus,
    maxMemoryBytes: row.max_memory_bytes,
    maxDiskBytes: row.max_disk_bytes,
    builtin: row.builtin === 1,
    egress: egressFromColumn(row.egress),
  };
  if (row.runtime) spec.runtime = row.runtime as RuntimeName;
  return spec;
}

export function listClasses(db: Queryable): Promise<ClassRow[]> {
  return db.selectFrom("classes").selectAll().orderBy("builtin", "desc").orderBy("name").execute();
}

export function getClass(db: Queryable, name: string): Promise<ClassRow | undefined> {
  return db.selectFrom("classes").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function insertClass(db: Queryable, row: ClassRow): Promise<void> {
  await db.insertInto("classes").values(row).execute();
}

export async function deleteClass(db: Queryable, name: string): Promise<void> {
  await db.deleteFrom("classes").where("name", "=", name).execute();
}
