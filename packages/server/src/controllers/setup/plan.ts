// The pure half of the setup controller (repository environments): from the setup state and
// the environment's row, the next step. Each step is long (a clone, a build, hooks), so a pass
// takes one step, saves, and the next pass plans again. Every case is a row in plan.test.ts.
import type { DesiredState, EnvState, SetupPhase } from "@warren/protocol";

export interface SetupSnapshot {
  setup: { phase: SetupPhase; created?: boolean; startedFor?: string; prebuild?: boolean } | undefined;
  env: { desired: DesiredState; state: EnvState; image: string; startedAt?: string };
}

export type SetupAction =
  /** Clone (or unpack the upload) into /workspaces/DIR inside the bootstrap container. */
  | { type: "clone" }
  /** Read devcontainer.json and automations.yaml, pull the image, fetch Features, merge. */
  | { type: "configure" }
  /** Build the Dockerfile and Features into an image. */
  | { type: "build" }
  /** Restart into the configured image, same disk. */
  | { type: "restart" }
  /** onCreate, updateContent, postCreate, then this start's hooks: once per environment. */
  | { type: "createHooks" }
  /** postStart, dotfiles stay; automations: once per start. */
  | { type: "startHooks" }
  /** Started from a prebuild: fetch the latest commit, compare the configuration (prebuild-update.ts). */
  | { type: "update" };

export function planSetup(s: SetupSnapshot): SetupAction[] {
  const { setup, env } = s;
  if (!setup) return [];
  // Steps run inside the environment: only while it runs and is meant to.
  if (env.desired !== "running" || env.state !== "running") return [];
  switch (setup.phase) {
    case "failed":
      return [];
    case "clone":
    case "configure":
    case "build":
    case "restart":
      return [{ type: setup.phase }];
    case "update":
      return [{ type: "update" }];
    case "hooks":
    case "ready":
      if (!setup.created) return [{ type: "createHooks" }];
      // A prebuild's environment is saved and deleted once its create-time hooks ran
      // (prebuild-controller.ts); it never runs this start's hooks or automations.
      if (setup.prebuild) return [];
      // A start this setup has not seen yet: a stop/start cycle, a wake, a host reboot.
      if (env.startedAt && setup.startedFor !== env.startedAt) return [{ type: "startHooks" }];
      return [];
  }
}
