// devcontainer.json's hostRequirements pick the smallest class of the organisation that fits,
// unless the create named a class or sizes itself. The environment's cpus, memory and pids follow
// the class at its restart, within the organisation's quota; its disk was made at create time and
// cannot grow, so a storage requirement beyond it is refused with the fix.
import { pickClassFor } from "@warren/devcontainer";
import { formatSize, WarrenError } from "@warren/protocol";
import { checkOrgQuota } from "../../services/quotas.ts";
import { ownershipOf } from "../../services/scope.ts";
import type { Db } from "../../store/db.ts";
import { listClasses, toClassSpec } from "../../store/queries/classes.ts";
import type { EnvRow } from "../../store/queries/envs.ts";

export async function applyHostRequirements(
  db: Db,
  row: EnvRow,
  requirements: unknown,
  now: string,
): Promise<string | undefined> {
  if (!requirements || typeof requirements !== "object") return undefined;
  const own = ownershipOf(row);
  const classes = (await listClasses(db, own.org_id)).map(toClassSpec);
  const name = pickClassFor(requirements as never, classes);
  const cls = classes.find((c) => c.name === name);
  if (!cls || cls.name === row.class_name) return undefined;
  if (cls.diskBytes > row.disk_bytes) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `devcontainer.json's hostRequirements need class ${cls.name} with ${formatSize(cls.diskBytes)} of disk, but this environment's disk was made with ${formatSize(row.disk_bytes)} and cannot grow; recreate it with \`warren up --repo … --class ${cls.name}\``,
      { className: cls.name },
    );
  }
  await checkOrgQuota(
    db,
    own.org_id,
    { cpus: cls.cpus, memoryBytes: cls.memoryBytes, diskBytes: row.disk_bytes },
    row.id,
  );
  await db
    .updateTable("environments")
    .set({
      class_name: cls.name,
      cpus: cls.cpus,
      memory_bytes: cls.memoryBytes,
      pids: cls.pids,
      updated_at: now,
    })
    .where("id", "=", row.id)
    .execute();
  return cls.name;
}
