import type { ClassSpec, IoLimits, RuntimeName } from "@warren/protocol";
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
    requiredLabels: labelsFromColumn(row.required_labels),
    cpuOvercommit: Number(row.cpu_overcommit),
    memoryOvercommit: Number(row.memory_overcommit),
    diskOvercommit: Number(row.disk_overcommit ?? 4),
    ioLimits: classIoLimits(row),
    cpuBurst: cpuBurstColumn(row),
  };
  if (row.runtime) spec.runtime = row.runtime as RuntimeName;
  if (row.idle_timeout_s !== null && row.idle_timeout_s !== undefined)
    spec.idleTimeoutSeconds = row.idle_timeout_s;
  return spec;
}

/** The class's disk I/O limits (migration 034); a null column is no limit. */
export function classIoLimits(
  row: Pick<ClassRow, "read_bps" | "write_bps" | "read_iops" | "write_iops">,
): IoLimits {
  const out: IoLimits = {};
  // PostgreSQL returns bigint columns as strings.
  const num = (v: number | string | null | undefined) =>
    v === null || v === undefined ? undefined : Number(v);
  const readBps = num(row.read_bps);
  const writeBps = num(row.write_bps);
  const readIops = num(row.read_iops);
  const writeIops = num(row.write_iops);
  if (readBps !== undefined) out.readBps = readBps;
  if (writeBps !== undefined) out.writeBps = writeBps;
  if (readIops !== undefined) out.readIops = readIops;
  if (writeIops !== undefined) out.writeIops = writeIops;
  return out;
}

/** environments.io_limits for an environment of this class: JSON, or null when unlimited. */
export function ioLimitsColumn(
  cls: Pick<ClassRow, "read_bps" | "write_bps" | "read_iops" | "write_iops"> | undefined,
): string | null {
  if (!cls) return null;
  const io = classIoLimits(cls);
  return Object.keys(io).length > 0 ? JSON.stringify(io) : null;
}

/** The class's CPU burst in cores (migration 036), or null for the runner's default; also environments.cpu_burst. */
export function cpuBurstColumn(cls: Pick<ClassRow, "cpu_burst"> | undefined): number | null {
  const v = cls?.cpu_burst;
  return v === null || v === undefined ? null : Number(v);
}

/** The required_labels column (a JSON object of strings, migration 031); anything else is none. */
export function labelsFromColumn(json: string | null | undefined): Record<string, string> {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return {};
    return Object.fromEntries(
      Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
  } catch {
    return {};
  }
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

/**
 * The class `name` as `orgId` sees it: its own or a built-in. Names are unique per organisation
 * (migration 009) and services/classes.ts refuses a class named like a built-in; should a later
 * built-in take a name an organisation already uses, the organisation's own wins there, so its
 * environments keep the bounds they were created with.
 */
export function getClass(db: Queryable, name: string, orgId?: string): Promise<ClassRow | undefined> {
  let q = db.selectFrom("classes").selectAll().where("name", "=", name);
  if (orgId !== undefined) q = q.where((eb) => eb.or([eb("builtin", "=", 1), eb("org_id", "=", orgId)]));
  return q.orderBy("builtin").orderBy("org_id").executeTakeFirst();
}

/** `orgId` owns the class (migration 005); the store defaults it to the bootstrap organisation. */
export async function insertClass(db: Queryable, row: ClassRow, orgId?: string): Promise<void> {
  await db
    .insertInto("classes")
    .values(orgId === undefined ? row : { ...row, org_id: orgId })
    .execute();
}

/** Removes `orgId`'s class `name` (undefined: every organisation's), never a built-in. */
export async function deleteClass(db: Queryable, name: string, orgId?: string): Promise<void> {
  let q = db.deleteFrom("classes").where("name", "=", name).where("builtin", "=", 0);
  if (orgId !== undefined) q = q.where("org_id", "=", orgId);
  await q.execute();
}
