// Class use cases. Built-in classes come from migrations and cannot be removed.
// Names are unique per organisation (migration 009). Built-ins are shared by every organisation,
// and a class may not take a built-in's name: an environment records its class by name, and that
// name must mean one class in its organisation.
import {
  type ClassSpec,
  CPU_OVERCOMMIT,
  type CreateClassRequest,
  checkCpuBurst,
  checkIoLimits,
  checkOvercommit,
  checkRequiredLabels,
  checkResourceLimit,
  DEFAULT_EGRESS,
  DISK_OVERCOMMIT,
  formatSize,
  MEMORY_OVERCOMMIT,
  parseEgress,
  parseSize,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import {
  type ClassRow,
  deleteClass,
  getClass,
  insertClass,
  listClasses,
  toClassSpec,
} from "../store/queries/classes.ts";
import { egressToColumn } from "../store/queries/egress.ts";
import { countEnvsOfClass } from "../store/queries/envs.ts";
import type { Actor } from "./actor.ts";
import { idleTimeoutArg } from "./idle-settings.ts";
import { validateName } from "./names.ts";
import { actorOrg, nameOrg, requireAdmin } from "./scope.ts";

export interface ClassService {
  list(a: Actor): Promise<ClassSpec[]>;
  create(a: Actor, req: CreateClassRequest): Promise<ClassSpec>;
  delete(a: Actor, name: string): Promise<void>;
}

export function createClassService(o: { db: Db; clock: Clock }): ClassService {
  const { db } = o;
  return {
    async list(a) {
      return (await listClasses(db, actorOrg(a))).map(toClassSpec);
    },
    async create(a, req) {
      requireAdmin(a, "creating a class");
      const org = nameOrg(a);
      const row = toRow(req, isoNow(o.clock));
      return db.transaction().execute(async (trx) => {
        // The organisation's own classes and the built-ins; another organisation's do not count.
        const existing = await getClass(trx, req.name, org);
        if (existing) {
          const why = existing.builtin ? "is a built-in class" : "already exists";
          throw new WarrenError(
            "CLASS_EXISTS",
            `class "${req.name}" ${why}; pick another name${existing.builtin ? "" : " or remove it first"}`,
            {
              name: req.name,
            },
          );
        }
        await insertClass(trx, row, org);
        return toClassSpec(row);
      });
    },
    async delete(a, name) {
      requireAdmin(a, "removing a class");
      const org = nameOrg(a);
      await db.transaction().execute(async (trx) => {
        const cls = await getClass(trx, name, org);
        if (!cls) {
          throw new WarrenError(
            "CLASS_NOT_FOUND",
            `class "${name}" does not exist; run \`warren class ls\` to see the classes`,
            {
              name,
            },
          );
        }
        // Not "in use": nothing the caller can remove makes a built-in class removable.
        if (cls.builtin) {
          throw new WarrenError(
            "CLASS_BUILTIN",
            `class "${name}" is built in and cannot be removed; \`warren class ls\` shows the classes you created`,
            { name },
          );
        }
        const users = await countEnvsOfClass(trx, name, org);
        if (users.length > 0) {
          throw new WarrenError(
            "CLASS_IN_USE",
            `class "${name}" is used by ${users.join(", ")}; remove those environments first`,
            { name, environments: users },
          );
        }
        await deleteClass(trx, name, org);
      });
    },
  };
}

function toRow(req: CreateClassRequest, now: string): ClassRow {
  validateName(req.name);
  // Every value a class holds is one its environments will ask for: the same limits as a create.
  const memory = checkResourceLimit("memory", parseSize(req.memory, "memory"));
  const disk = checkResourceLimit("disk", parseSize(req.disk, "disk"));
  checkResourceLimit("cpus", req.cpus);
  const pids = checkResourceLimit("pids", req.pids ?? 4096);
  // Without explicit bounds a class is a fixed shape: overrides may only go down.
  const maxCpus = checkResourceLimit("cpus", req.maxCpus ?? req.cpus, "max cpus");
  const maxMemory =
    req.maxMemory !== undefined
      ? checkResourceLimit("memory", parseSize(req.maxMemory, "max memory"), "max memory")
      : memory;
  const maxDisk =
    req.maxDisk !== undefined
      ? checkResourceLimit("disk", parseSize(req.maxDisk, "max disk"), "max disk")
      : disk;
  const egress = req.egress !== undefined ? parseEgress(req.egress) : DEFAULT_EGRESS;
  // What placement reads (scheduler/filter.ts): the labels a runner must carry, the overcommit.
  const requiredLabels = checkRequiredLabels(req.requiredLabels);
  const cpuOvercommit = checkOvercommit("cpu", req.cpuOvercommit ?? CPU_OVERCOMMIT.default);
  const memoryOvercommit = checkOvercommit("memory", req.memoryOvercommit ?? MEMORY_OVERCOMMIT.default);
  const diskOvercommit = checkOvercommit("disk", req.diskOvercommit ?? DISK_OVERCOMMIT.default);
  const io = checkIoLimits(req.ioLimits);
  const cpuBurst = checkCpuBurst(req.cpuBurst, req.cpus);
  if (maxCpus < req.cpus) invalid("maxCpus", `max cpus ${maxCpus} is below the default of ${req.cpus}`);
  if (maxMemory < memory)
    invalid("maxMemory", `max memory ${formatSize(maxMemory)} is below the default of ${formatSize(memory)}`);
  if (maxDisk < disk)
    invalid("maxDisk", `max disk ${formatSize(maxDisk)} is below the default of ${formatSize(disk)}`);
  return {
    name: req.name,
    cpus: req.cpus,
    memory_bytes: memory,
    disk_bytes: disk,
    pids,
    runtime: req.runtime ?? null,
    max_cpus: maxCpus,
    max_memory_bytes: maxMemory,
    max_disk_bytes: maxDisk,
    builtin: 0,
    egress: egressToColumn(egress),
    idle_timeout_s: req.idleTimeout !== undefined ? idleTimeoutArg(req.idleTimeout) : null,
    created_at: now,
    required_labels: JSON.stringify(requiredLabels),
    cpu_overcommit: cpuOvercommit,
    memory_overcommit: memoryOvercommit,
    disk_overcommit: diskOvercommit,
    read_bps: io.readBps ?? null,
    write_bps: io.writeBps ?? null,
    read_iops: io.readIops ?? null,
    write_iops: io.writeIops ?? null,
    cpu_burst: cpuBurst,
  };
}

function invalid(field: string, message: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field });
}
