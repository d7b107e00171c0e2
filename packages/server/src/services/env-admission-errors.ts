// What a create says when it does not create: the environment of that name already exists
// (same spec: it is the answer; else NAME_CONFLICT naming the differences), or no runner can
// take it (UNSCHEDULABLE naming each runner's reason; with one runner whose only reason is its
// slots or its disk, the codes and messages a single host has always given).
import { type EnvSpec, formatSize, WarrenError } from "@warren/protocol";
import { explainUnschedulable } from "../scheduler/explain.ts";
import type { RejectedRunner, RunnerSnapshot } from "../scheduler/types.ts";
import type { Db } from "../store/db.ts";
import { type EnvRow, toEnvironment } from "../store/queries/envs.ts";
import type { SetupState } from "../store/queries/setups.ts";
import type { Actor } from "./actor.ts";
import { conflictFix, specDifferences } from "./env-spec.ts";
import { checkUserRunning } from "./quotas.ts";
import { repoDifferences } from "./repo-source.ts";
import { canSeeEnv, ownershipOf } from "./scope.ts";

export async function existingOutcome(
  db: Db,
  a: Actor,
  existing: EnvRow,
  spec: EnvSpec,
  setup: SetupState | undefined,
): Promise<{ row: EnvRow; created: false }> {
  const name = existing.name;
  if (!canSeeEnv(a, existing)) {
    // Another member's environment in this organisation; say only that the name is taken.
    throw new WarrenError("NAME_CONFLICT", `the name "${name}" is taken; pick another --name`, { name });
  }
  if (existing.desired === "deleted") {
    throw new WarrenError(
      "NAME_CONFLICT",
      `environment "${name}" is being deleted; wait for \`warren rm ${name}\` to finish or pick another --name`,
      { name },
    );
  }
  const diffs = existing.setup
    ? repoDifferences(existing, setup)
    : specDifferences(toEnvironment(existing).spec, spec);
  if (diffs.length > 0) {
    throw new WarrenError(
      "NAME_CONFLICT",
      `environment "${name}" exists with a different spec (${diffs.join("; ")}); ${conflictFix(name, toEnvironment(existing).spec, spec)}`,
      { name, differences: diffs },
    );
  }
  if (existing.desired !== "running") {
    const theirs = ownershipOf(existing);
    await checkUserRunning(db, theirs.org_id, theirs.owner_id);
  }
  return { row: existing, created: false };
}

export function unschedulableError(
  name: string,
  need: { cpus: number; memoryBytes: number; diskBytes: number },
  rejected: RejectedRunner[],
  snapshots: RunnerSnapshot[],
  /** The class's disk overcommit: free disk × this may be promised to disks. */
  diskRatio = 1,
): WarrenError {
  const only = snapshots.length === 1 ? snapshots[0] : undefined;
  const reasons = only ? rejected.filter((r) => r.runnerName === only.name) : [];
  const reason = reasons.length > 0 ? reasons[reasons.length - 1]?.why : undefined;
  if (only && reason?.startsWith("no free slots")) {
    const slots = only.capacity.slots;
    return new WarrenError(
      "CAPACITY_EXHAUSTED",
      `this runner has room for ${slots} environments and all are taken; remove environments with \`warren rm\` or enlarge the warren block in /etc/subuid and /etc/subgid`,
      { slots },
    );
  }
  if (only && reason?.startsWith("disk ")) {
    const reserved = only.allocated.diskBytes;
    const free = only.capacity.diskBytes;
    return new WarrenError(
      "INSUFFICIENT_DISK",
      `not enough disk for "${name}": it needs ${formatSize(need.diskBytes)}, environments already reserve ${formatSize(reserved)} and the host has ${formatSize(free)} free (its class promises free disk up to ${diskRatio}:1, so ${formatSize(Math.floor(free * diskRatio))} in all); ask for less with --disk, remove environments with \`warren rm\`, or use a class with a higher --disk-overcommit`,
      { requestedBytes: need.diskBytes, reservedBytes: reserved, freeBytes: free, diskOvercommit: diskRatio },
    );
  }
  const unique = dedupe(rejected);
  return new WarrenError(
    "UNSCHEDULABLE",
    `cannot place "${name}": ${explainUnschedulable(unique)}; ask for less (--cpus, --memory, --disk), remove or stop environments (\`warren rm\`, \`warren stop\`), or add runners (\`warren fleet ls\` shows them)`,
    { runners: unique.slice(0, 50).map((r) => ({ name: r.runnerName, why: r.why })) },
  );
}

/** A runner tried, then seen full, is named once, with its latest reason. */
function dedupe(rejected: RejectedRunner[]): RejectedRunner[] {
  const byName = new Map<string, RejectedRunner>();
  for (const r of rejected) byName.set(r.runnerName, r);
  return [...byName.values()];
}
