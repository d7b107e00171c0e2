// FleetView for one runner per organisation: the embedded daemon's in-process runner (id
// `local`, serving every organisation), and the server until a fleet cache is wired in (the
// organisation's runner as the hub picks it). Each placement reads the runner's info (as create
// always has), records its capacity when it changed, and reads the capacity row for what is
// allocated: on SQLite both are in-process reads.
import type { RunnerInfo } from "@warren/protocol";
import type { Queryable } from "../store/queries/envs.ts";
import {
  type RunnerCapacity,
  registerRunnerCapacity,
  runnerCapacity,
} from "../store/queries/fleet-admission.ts";
import type { FleetView } from "./fleet-view.ts";
import type { RunnerSnapshot } from "./types.ts";

export function embeddedFleetView(o: {
  db: Queryable;
  /** The runner serving `orgId` (embedded: always the same one). */
  infoFor: (orgId: string) => Promise<RunnerInfo>;
  /** Embedded: it serves every organisation. */
  shared?: boolean;
}): FleetView {
  return {
    async snapshots(orgId) {
      const info = await o.infoFor(orgId);
      await registerRunnerCapacity(o.db, { runnerId: info.id, orgId, info });
      const cap = await runnerCapacity(o.db, info.id);
      return [snapshotOf(info, cap, o.shared ? "shared" : [orgId])];
    },
    // Nothing cached: the next placement reads the row again.
    admitted() {},
  };
}

/**
 * The embedded daemon's runner, recorded at start (capacity row, slot free list) so the fleet and
 * placement see its real capacity before the first create. Under the bootstrap organisation, as
 * the store records the system's own things; it serves every organisation all the same.
 */
export async function registerEmbeddedRunner(
  db: Queryable,
  runner: { info(): Promise<RunnerInfo> },
  orgId: string,
): Promise<RunnerInfo> {
  const info = await runner.info();
  await registerRunnerCapacity(db, { runnerId: info.id, orgId, info });
  return info;
}

export function snapshotOf(
  info: RunnerInfo,
  cap: RunnerCapacity | undefined,
  orgIds: RunnerSnapshot["orgIds"],
): RunnerSnapshot {
  const reported: RunnerSnapshot = {
    id: info.id,
    name: info.name ?? info.hostname,
    orgIds,
    labels: info.labels ?? {},
    runtimes: [...info.runtimes],
    cordoned: false,
    ...(info.unschedulable ? { unschedulable: info.unschedulable } : {}),
    connected: true,
    capacity: { cpus: info.cpus, memoryBytes: info.memoryBytes, diskBytes: info.diskFreeBytes, slots: 0 },
    allocated: { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0 },
    usage: {
      cpuEwmaCores: info.usage?.cpuEwmaCores ?? 0,
      memoryWorkingSetBytes: info.usage?.memoryWorkingSetBytes ?? 0,
    },
    images: [],
    ownerEnvCounts: {},
  };
  return cap ? withCapacity(reported, cap) : reported;
}

/** The snapshot with the capacity row's figures (the store's truth at admission). */
export function withCapacity(s: RunnerSnapshot, cap: RunnerCapacity): RunnerSnapshot {
  return {
    ...s,
    capacity: { cpus: cap.cpus, memoryBytes: cap.memoryBytes, diskBytes: cap.diskBytes, slots: cap.slots },
    allocated: {
      cpus: cap.alloc.cpus,
      memoryBytes: cap.alloc.memoryBytes,
      diskBytes: cap.alloc.diskBytes,
      slots: cap.alloc.envs,
    },
  };
}
