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

/**
 * `orgId` limits the result to classes of that organisation plus the built-in ones (shared by
 * all); undefined (the system) sees every class.
 */
export function listClasses(db: Queryable, orgId?: string): Promise<ClassRow[]> {
  let q = db.selectFrom("classes").selectAll();
  if (orgId !== undefined) q = q.where((eb) => eb.or([eb("builtin", "=", 1), eb("org_id", "=", orgId)]));
  return q.orderBy("builtin", "desc").orderBy("name").execute();
}

export function getClass(db: Queryable, name: string, orgId?: string): Promise<ClassRow | undefined> {
  let q = db.selectFrom("classes").selectAll().where("name", "=", name);
  if (orgId !== undefined) q = q.where((eb) => eb.or([eb("builtin", "=", 1), eb("org_id", "=", orgId)]));
  return q.executeTakeFirst();
}

/** `orgId` owns the class (migration 005); the store defaults it to the bootstrap organisation. */
export async function insertClass(db: Queryable, row: ClassRow, orgId?: string): Promise<void> {
  await db
    .insertInto("classes")
    .values(orgId === undefined ? row : { ...row, org_id: orgId })
    .execute();
}

export async function deleteClass(db: Queryable, name: string): Promise<void> {
  await db.deleteFrom("classes").where("name", "=", name).execute();
}
