// The daemon's parts for repository environments: uploads, the setup controller and the API's
// service over them. One call in daemon.ts; close() stops the controller (environments go on).
import type { RunnerApi } from "@warren/protocol";
import { parseImageRef } from "@warren/protocol";
import { type Clock, systemClock } from "./clock.ts";
import { createSetupController, type SetupController } from "./controllers/setup/controller.ts";
import {
  createPrebuildController,
  type PrebuildController,
} from "./controllers/setup/prebuild-controller.ts";
import type { Logger } from "./logger.ts";
import type { ChangeFeed } from "./services/changes.ts";
import type { EnvironmentService } from "./services/environments.ts";
import type { ImageService } from "./services/images.ts";
import { createPrebuildService, type PrebuildService } from "./services/prebuilds.ts";
import type { RegistryLoginService } from "./services/registry-logins.ts";
import { oneRunner, type RunnerFor } from "./services/runner-for.ts";
import { createSetupService, type SetupService } from "./services/setups.ts";
import { createUploadService } from "./services/uploads.ts";
import type { Db } from "./store/db.ts";

export interface SetupParts {
  setups: SetupService;
  controller: SetupController;
  prebuilds: PrebuildService;
  /** Ends prebuild runs and starts scheduled ones; start() it with the setup controller. */
  prebuildController: PrebuildController;
  close(): Promise<void>;
}

export function createSetupParts(o: {
  db: Db;
  clock?: Clock;
  root: string;
  runner: RunnerApi;
  logger: Logger;
  changes: ChangeFeed;
  envs: EnvironmentService;
  images: Pick<ImageService, "ensureForEnv">;
  registries?: Pick<RegistryLoginService, "credentialFor">;
  /** The organisation's runner (prebuilds remove old disk templates there); default `runner`. */
  runnerFor?: RunnerFor;
  /** Server mode: which replica takes an environment's steps (RunnerHub.ownership). */
  ownership?: (id: string) => Promise<"mine" | "elsewhere" | "none">;
}): SetupParts {
  const clock = o.clock ?? systemClock;
  const uploads = createUploadService({ db: o.db, clock, root: o.root });
  const controller = createSetupController({
    db: o.db,
    runner: o.runner,
    clock,
    logger: o.logger,
    changes: o.changes,
    uploads,
    ...(o.ownership ? { ownership: o.ownership } : {}),
    pull: (owner, ref) => o.images.ensureForEnv(owner, ref),
    credentialFor: async (owner, ref) => {
      const host = parseImageRef(ref).registry;
      return host ? o.registries?.credentialFor(owner, host, owner.orgId) : undefined;
    },
  });
  const runnerFor = o.runnerFor ?? oneRunner(o.runner);
  const prebuilds = createPrebuildService({ db: o.db, clock, envs: o.envs, runnerFor });
  const prebuildController = createPrebuildController({
    db: o.db,
    runner: o.runner,
    runnerFor,
    envs: o.envs,
    clock,
    logger: o.logger,
    changes: o.changes,
    runDue: (row) => prebuilds.runDue(row),
  });
  const sweep = setInterval(() => void uploads.sweep().catch(() => undefined), 10 * 60_000);
  sweep.unref();
  return {
    setups: createSetupService({ envs: o.envs, controller, uploads }),
    controller,
    prebuilds,
    prebuildController,
    async close() {
      clearInterval(sweep);
      await prebuildController.close();
      await controller.close();
    },
  };
}
