// The pure half of the environment reconciler: from what the store wants and what the runner
// sees, decide the steps. No I/O here, so every case is a row in plan.test.ts.
import type { DesiredState, EnvObserved, EnvState } from "@warren/protocol";

/** The limits that can change on a running environment (the disk cannot). */
export interface LiveLimits {
  cpus: number;
  memoryBytes: number;
  pids: number;
}

export interface EnvSnapshot {
  row: { desired: DesiredState; state: EnvState; stopGraceMs: number; resources?: LiveLimits } | undefined;
  observed: Pick<EnvObserved, "state" | "resources">;
}

/** True when the runner reports applied limits that differ from the row's (a resize to apply). */
export function limitsDiffer(want: LiveLimits | undefined, applied: LiveLimits | undefined): boolean {
  if (!want || !applied) return false;
  return want.cpus !== applied.cpus || want.memoryBytes !== applied.memoryBytes || want.pids !== applied.pids;
}

export type Action =
  | { type: "setState"; state: EnvState }
  | { type: "ensureRunning" }
  | { type: "ensureStopped"; graceMs: number }
  | { type: "remove" }
  /** Applies the row's limits live; a refusal leaves a ResizePending condition, not a failure. */
  | { type: "setResources" }
  | { type: "deleteRow" }
  /**
   * `hostLog: false` records only in the store: for events after the host side is gone, and for
   * starts and stops the runner itself logs on the host (with the runtime and init's pid).
   */
  | { type: "event"; message: string; hostLog?: false };

export function plan(s: EnvSnapshot): Action[] {
  const { row } = s;
  if (!row) return [];
  const observed = s.observed.state;
  const setState = (state: EnvState): Action[] => (row.state === state ? [] : [{ type: "setState", state }]);

  switch (row.desired) {
    case "deleted": {
      const gracefulStop: Action[] =
        observed === "running" && row.stopGraceMs > 0
          ? [{ type: "ensureStopped", graceMs: row.stopGraceMs }]
          : [];
      return [
        ...(row.state === "deleting"
          ? []
          : [...setState("deleting"), { type: "event", message: "deleting" } as Action]),
        ...gracefulStop,
        // Always remove, even when nothing is observed: removal is idempotent and also clears
        // half-made host objects that observe() does not report.
        { type: "remove" },
        { type: "event", message: "deleted", hostLog: false },
        { type: "deleteRow" },
      ];
    }
    case "running": {
      // Failure is terminal until the user asks again (which resets the state to pending).
      if (row.state === "failed") return [];
      if (observed === "running") {
        // A resize recorded but not applied (the daemon died in between, or the apply failed).
        const resize: Action[] = limitsDiffer(row.resources, s.observed.resources)
          ? [{ type: "setResources" }]
          : [];
        return row.state === "running"
          ? resize
          : [...setState("running"), { type: "event", message: "started" }, ...resize];
      }
      const fresh = observed === "absent" && (row.state === "pending" || row.state === "creating");
      return [
        ...setState(observed === "absent" ? "creating" : "pending"),
        { type: "ensureRunning" },
        ...(fresh ? [{ type: "event", message: "created" } as Action] : []),
        { type: "setState", state: "running" },
        { type: "event", message: "started", hostLog: false },
      ];
    }
    case "stopped": {
      if (row.state === "failed") return [];
      if (observed === "running") {
        return [
          ...setState("stopping"),
          { type: "ensureStopped", graceMs: row.stopGraceMs },
          { type: "setState", state: "stopped" },
          { type: "event", message: "stopped", hostLog: false },
        ];
      }
      if (row.state === "stopped") return [];
      const wasUp = row.state === "running" || row.state === "stopping";
      return [
        { type: "setState", state: "stopped" },
        ...(wasUp ? [{ type: "event", message: "stopped" } as Action] : []),
      ];
    }
  }
}
