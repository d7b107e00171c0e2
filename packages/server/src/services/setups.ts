// Use cases of repository environments for the API: upload a directory, rebuild, run a hook,
// note an interactive attach. The steps themselves belong to the setup controller.
import type { Readable } from "node:stream";
import { type Environment, LIFECYCLE_HOOKS, type LifecycleHookName, WarrenError } from "@warren/protocol";
import type { SetupController } from "../controllers/setup/controller.ts";
import { toEnvironment } from "../store/queries/envs.ts";
import type { Actor } from "./actor.ts";
import type { EnvironmentService } from "./environments.ts";
import type { UploadService } from "./uploads.ts";

export interface SetupService {
  upload(
    a: Actor,
    body: Readable,
    declaredBytes: number | undefined,
  ): Promise<{ id: string; sizeBytes: number }>;
  rebuild(a: Actor, name: string): Promise<Environment>;
  runHook(a: Actor, name: string, hook: string): Promise<{ hook: LifecycleHookName; exitCode: number }>;
  /** An interactive session (shell, SSH pty, web terminal) began on environment `envId`. */
  attached(envId: string): void;
}

export function createSetupService(o: {
  envs: EnvironmentService;
  controller: SetupController;
  uploads: UploadService;
}): SetupService {
  const notRepo = (name: string) =>
    new WarrenError(
      "INVALID_ARGUMENT",
      `environment "${name}" was not made from a repository; rebuild and hooks need \`warren up --repo\``,
      { name },
    );
  return {
    upload: (a, body, declared) => o.uploads.put(a, body, declared),
    async rebuild(a, name) {
      const row = await o.envs.requireRunning(a, name);
      if (!row.setup) throw notRepo(name);
      await o.controller.rebuild(row.id);
      return toEnvironment((await o.envs.find(a, row.id)) ?? row);
    },
    async runHook(a, name, hook) {
      if (!(LIFECYCLE_HOOKS as readonly string[]).includes(hook)) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `unknown hook "${hook.slice(0, 40)}"; use one of ${LIFECYCLE_HOOKS.join(", ")}`,
          { field: "hook" },
        );
      }
      const row = await o.envs.requireRunning(a, name);
      if (!row.setup) throw notRepo(name);
      const exitCode = await o.controller.runHook(row.id, hook as LifecycleHookName);
      return { hook: hook as LifecycleHookName, exitCode };
    },
    attached(envId) {
      o.controller.attached(envId);
    },
  };
}
