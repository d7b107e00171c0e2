// The daemon's parts for repository environments: uploads, the setup controller and the API's
// service over them. One call in daemon.ts; close() stops the controller (environments go on).
import type { RunnerApi } from "@warren/protocol";
import { type Clock, systemClock } from "./clock.ts";
import { createSetupController, type SetupController } from "./controllers/setup/controller.ts";
import type { Logger } from "./logger.ts";
import type { ChangeFeed } from "./services/changes.ts";
import type { EnvironmentService } from "./services/environments.ts";
import type { ImageService } from "./services/images.ts";
import type { RegistryLoginService } from "./services/registry-logins.ts";
import { createSetupService, type SetupService } from "./services/setups.ts";
import { createUploadService } from "./services/uploads.ts";
import type { Db } from "./store/db.ts";
import { parseImageRef } from "@warren/protocol";

export interface SetupParts {
  setups: SetupService;
  controller: SetupController;
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
    pull: (owner, ref) => o.images.ensureForEnv(owner, ref),
    credentialFor: async (owner, ref) => {
      const host = parseImageRef(ref).registry;
      return host ? o.registries?.credentialFor(owner, host, owner.orgId) : undefined;
    },
  });
  const sweep = setInterval(() => void uploads.sweep().catch(() => undefined), 10 * 60_000);
  sweep.unref();
  return {
    setups: createSetupService({ envs: o.envs, controller, uploads }),
    controller,
    async close() {
      clearInterval(sweep);
      await controller.close();
    },
  };
}
