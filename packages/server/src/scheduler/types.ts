// The scheduler's inputs and output. Plain data only: the store and the runner connections build
// these snapshots, and the pure placement functions never do I/O, so every case is a table row.

/** What the control plane knows about one runner at the moment of a placement. */
export interface RunnerSnapshot {
  id: string;
  name: string;
  /** The organisations this runner serves, or "shared" for a runner that serves every one. */
  orgIds: string[] | "shared";
  labels: Record<string, string>;
  /** Runtimes the runner reported as working (crun, runc, gvisor…). */
  runtimes: string[];
  cordoned: boolean;
  /** The host's own refusal of new environments (RunnerInfo.unschedulable), with why. */
  unschedulable?: string;
  connected: boolean;
  capacity: { cpus: number; memoryBytes: number; diskBytes: number; slots: number };
  /** What admitted environments reserve: memoryBytes is the sum of their memory limits. */
  allocated: { cpus: number; memoryBytes: number; diskBytes: number; slots: number };
  /** Live usage from heartbeats: CPU as an EWMA in cores, memory as the host's working set. */
  usage: { cpuEwmaCores: number; memoryWorkingSetBytes: number };
  /** Image references already in the runner's cache. */
  images: string[];
  /** How many environments each owner already has on this runner. */
  ownerEnvCounts: Record<string, number>;
}

export interface PlacementRequest {
  envId: string;
  orgId: string;
  ownerId: string;
  image: string;
  runtime: string;
  resources: { cpus: number; memoryBytes: number; diskBytes: number };
  requiredLabels: Record<string, string>;
  /** The class's overcommit ratios (limits may sum to capacity × ratio; disk sizes to free disk × ratio). */
  overcommit: { cpu: number; memory: number; disk: number };
}

export interface RejectedRunner {
  runnerName: string;
  why: string;
}

export type PlacementDecision =
  | { kind: "placed"; runnerId: string; runnerName: string; reasons: string[]; explanation: string }
  | { kind: "unschedulable"; explanation: string; rejected: RejectedRunner[] };
