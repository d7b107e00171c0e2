// Builders for scheduler table tests: a roomy, idle, connected runner and a modest request, each
// overridden per row so a row states only what it is about.
import type { PlacementRequest, RunnerSnapshot } from "../src/scheduler/types.ts";

export const GiB = 1024 ** 3;

type RunnerOverrides = Omit<Partial<RunnerSnapshot>, "capacity" | "allocated" | "usage"> & {
  capacity?: Partial<RunnerSnapshot["capacity"]>;
  allocated?: Partial<RunnerSnapshot["allocated"]>;
  usage?: Partial<RunnerSnapshot["usage"]>;
};

export function runner(name: string, o: RunnerOverrides = {}): RunnerSnapshot {
  return {
    id: `id-${name}`,
    name,
    orgIds: ["org1"],
    labels: { zone: "eu" },
    runtimes: ["crun", "runc"],
    cordoned: false,
    connected: true,
    images: [],
    ownerEnvCounts: {},
    ...o,
    capacity: { cpus: 16, memoryBytes: 32 * GiB, diskBytes: 500 * GiB, slots: 100, ...o.capacity },
    allocated: { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0, ...o.allocated },
    usage: { cpuEwmaCores: 0, memoryWorkingSetBytes: 0, ...o.usage },
  };
}

type RequestOverrides = Omit<Partial<PlacementRequest>, "resources" | "overcommit"> & {
  resources?: Partial<PlacementRequest["resources"]>;
  overcommit?: Partial<PlacementRequest["overcommit"]>;
};

export function request(o: RequestOverrides = {}): PlacementRequest {
  return {
    envId: "env1",
    orgId: "org1",
    ownerId: "alice",
    image: "debian:12",
    runtime: "crun",
    requiredLabels: {},
    ...o,
    resources: { cpus: 2, memoryBytes: 2 * GiB, diskBytes: 10 * GiB, ...o.resources },
    // Disk 1:1 unless a row says otherwise: the disk rows check the arithmetic at its plainest.
    overcommit: { cpu: 4, memory: 1, disk: 1, ...o.overcommit },
  };
}
