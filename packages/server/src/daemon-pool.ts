// The daemon's warm-pool parts, wired apart from daemon.ts: the claimer the create path calls,
// the controller that keeps pools filled (it needs the environment service, made after the
// claimer), and the configuration service the API serves.
import type { RunnerApi } from "@warren/protocol";
import type { Clock } from "./clock.ts";
import { createPoolController, type PoolController } from "./controllers/pool/controller.ts";
import type { Logger } from "./logger.ts";
import { embeddedFleetView } from "./scheduler/embedded-view.ts";
import type { FleetView } from "./scheduler/fleet-view.ts";
import type { ChangeFeed } from "./services/changes.ts";
import type { EnvironmentService } from "./services/environments.ts";
import { createPoolClaimer, type PoolClaimer } from "./services/pool-claim.ts";
import { createPoolService, type PoolService } from "./services/pools.ts";
import type { RunnerFor } from "./services/runner-for.ts";
import type { Db } from "./store/db.ts";
import { getPool } from "./store/queries/pool.ts";

export interface PoolParts {
  claimer: PoolClaimer;
  service: PoolService;
  /** Starts the controller once the environment service exists. */
  start(envs: EnvironmentService): PoolController;
  close(): Promise<void>;
}

export function createPoolParts(o: {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** With secret delivery: the claim delivers the new owner's secrets. */
  runner: RunnerApi;
  changes: ChangeFeed;
  enqueueEnv: (id: string) => void;
  runnerFor: RunnerFor;
  fleet?: FleetView;
}): PoolParts {
  let controller: PoolController | undefined;
  const claimer = createPoolClaimer({
    db: o.db,
    clock: o.clock,
    logger: o.logger,
    runner: o.runner,
    changed: (id) => o.changes.emit(id),
    // The pool just lost a member: refill it now rather than at the next resync.
    claimed: (poolId) =>
      void getPool(o.db, poolId)
        .then((p) => p && controller?.enqueue({ orgId: p.org_id, image: p.image, className: p.class_name }))
        .catch(() => undefined),
  });
  const service = createPoolService({
    db: o.db,
    clock: o.clock,
    changed: (key) => {
      claimer.invalidate();
      controller?.enqueue(key);
    },
  });
  const fleetFor = (orgId: string): FleetView =>
    o.fleet ?? embeddedFleetView({ db: o.db, infoFor: () => o.runnerFor(orgId).info() });
  return {
    claimer,
    service,
    start(envs) {
      controller = createPoolController({
        db: o.db,
        clock: o.clock,
        logger: o.logger,
        envs,
        enqueueEnv: o.enqueueEnv,
        changed: (id) => o.changes.emit(id),
        claimer,
        fleetFor,
        resyncMs: Number(process.env["WARREN_POOL_RESYNC_MS"]) || 5_000,
      });
      controller.start();
      return controller;
    },
    async close() {
      await controller?.close();
    },
  };
}
