// What placement reads about an organisation's runners. The server's implementation
// (runners/fleet-cache.ts) answers from memory: live reports of the runners this replica holds,
// and the store's rows for those other replicas hold, refreshed in the background; the embedded
// daemon's (scheduler/embedded-view.ts) has its one in-process runner. Snapshots may lag: the
// conditional capacity update at admission (store/queries/fleet-admission.ts) is the truth, and a
// create whose first choice no longer fits tries the next.
import type { RunnerSnapshot } from "./types.ts";

export interface FleetView {
  /**
   * The organisation's runners as placement sees them, connected or not (the filter says why not).
   * `fresh`: read the store now instead of answering from memory (a placement that found no room
   * asks once more, since a cached view does not yet see environments deleted meanwhile).
   */
  snapshots(orgId: string, ownerId: string, opts?: { fresh?: boolean }): Promise<RunnerSnapshot[]>;
  /** After an admission commits, so the next placement sees it before the next refresh. */
  admitted(
    runnerId: string,
    need: { cpus: number; memoryBytes: number; diskBytes: number },
    ownerId: string,
  ): void;
}
