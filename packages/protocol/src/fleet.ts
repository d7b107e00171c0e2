// The fleet as the API shows it (server services/fleet.ts, `warren fleet`): each runner of the
// caller's organisation with its scheduling state, capacity, what is allocated and what is used,
// and the cordon/uncordon/drain operations. Also the environment condition a runner's
// disappearance adds, which `ls` and `inspect` show.
import type { Condition, Environment } from "./env.ts";
import type { RunnerUsage } from "./runner.ts";

/**
 * ready: takes new environments. cordoned: takes none, its environments keep running. draining:
 * takes none, its environments are being stopped. unreachable: the control plane lost sight of it
 * past the grace period (its environments carry RunnerUnreachable). disconnected: no replica holds
 * it right now, within the grace period.
 */
export const FLEET_RUNNER_STATES = ["ready", "cordoned", "draining", "unreachable", "disconnected"] as const;
export type FleetRunnerState = (typeof FLEET_RUNNER_STATES)[number];

export const RUNNER_SCHEDULES = ["active", "cordoned", "draining"] as const;
export type RunnerScheduleState = (typeof RUNNER_SCHEDULES)[number];

/** The condition an environment gains while its runner is unreachable; `at` is since when. */
export const RUNNER_UNREACHABLE = "RunnerUnreachable";

export interface FleetResources {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  /** Environment slots (65,536-id blocks of the runner's id range). */
  slots: number;
}

export interface FleetRunner {
  /** The runner token's id. */
  id: string;
  name: string;
  state: FleetRunnerState;
  /** What an admin set: active, cordoned or draining (state also says whether it is connected). */
  schedule: RunnerScheduleState;
  labels: Record<string, string>;
  hostname: string;
  runtimes: string[];
  /** What the runner reported; zeros before its first report. */
  capacity: FleetResources;
  /** What admitted environments reserve (slots: how many environments it holds). */
  allocated: FleetResources;
  /** Live usage from its heartbeats; null when it never reported any. */
  used: RunnerUsage | null;
  /** Its environments (not deleted) and how many of them run. */
  environments: { total: number; running: number };
  /** Its last heartbeat; null for the embedded daemon's in-process runner (always there). */
  lastHeartbeat: string | null;
  unreachableSince: string | null;
  /** Why the host itself refuses new environments (low memory, low disk), or null. */
  unschedulable: string | null;
}

/** The autoscaler's last decision for a pool, when the server runs one. */
export interface FleetAutoscaler {
  pool: string;
  /** How many runners it wants in the pool. */
  desired: number;
  decision: string;
  at: string;
}

export interface FleetList {
  items: FleetRunner[];
  /** Empty when no autoscaler runs. */
  autoscaler: FleetAutoscaler[];
}

export const FLEET_ACTIONS = ["cordon", "uncordon", "drain"] as const;
export type FleetAction = (typeof FLEET_ACTIONS)[number];

export interface FleetActionResult {
  runner: FleetRunner;
  /** Drain: the environments asked to stop (names), each with its state when the answer was sent. */
  stopping: { name: string; state: string }[];
}

export interface FleetClient {
  listRunners(): Promise<FleetList>;
  fleetAction(name: string, action: FleetAction): Promise<FleetActionResult>;
}

export function fleetMethods(http: {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
}): FleetClient {
  return {
    listRunners: () => http.json("GET", "/fleet/runners"),
    fleetAction: (name, action) =>
      http.json("POST", `/fleet/runners/${encodeURIComponent(name)}/${action}`, {}),
  };
}

/** The environment's RunnerUnreachable condition while it holds, else undefined. */
export function runnerUnreachable(env: Pick<Environment, "conditions">): Condition | undefined {
  return env.conditions.find((c) => c.type === RUNNER_UNREACHABLE && c.status === "True");
}
