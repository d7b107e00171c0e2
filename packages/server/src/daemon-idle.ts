// The daemon's parts that watch use rather than state: the activity tracker (terminal, SSH and
// signed-in proxy use), the idle controller that stops what nobody uses (keeping its disk), and the
// usage sampler that records measured CPU beside the allocation (shown, never billed). Wired apart
// from daemon.ts so the daemon reads as the list of its parts.
import type { RunnerApi } from "@warren/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "./clock.ts";
import { createIdleController, type IdleController } from "./controllers/idle/controller.ts";
import { createUsageSampler, type UsageSampler } from "./controllers/usage/sampler.ts";
import { type ActivityState, createActivityTracker } from "./services/activity.ts";
import type { ChangeFeed } from "./services/changes.ts";
import { persistActivity } from "./services/idle-settings.ts";
import type { Db } from "./store/db.ts";

export interface IdleParts {
  activity: ActivityState;
  idle: IdleController;
  usageSampler: UsageSampler;
}

export function createIdleParts(o: {
  db: Db;
  clock: Clock;
  logger: FastifyBaseLogger;
  changes: ChangeFeed;
  runner: RunnerApi;
  enqueue: (id: string) => void;
  ownership: ((envId: string) => Promise<"mine" | "elsewhere" | "none">) | undefined;
}): IdleParts {
  const activity = createActivityTracker({
    clock: o.clock,
    persist: (id, a) => persistActivity(o.db, id, a),
    logger: o.logger.child({ component: "activity" }),
  });
  const idle = createIdleController({
    db: o.db,
    clock: o.clock,
    logger: o.logger.child({ component: "idle" }),
    changes: o.changes,
    enqueue: o.enqueue,
    activity,
  });
  const usageSampler = createUsageSampler({
    db: o.db,
    runner: o.runner,
    clock: o.clock,
    logger: o.logger.child({ component: "usage" }),
    ...(o.ownership ? { ownership: o.ownership } : {}),
  });
  return { activity, idle, usageSampler };
}
