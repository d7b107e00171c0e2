// Lifecycle hooks of a merged configuration: one command per source (image label, Features,
// devcontainer.json) in the order they run, and which hook `waitFor` names.
import type { LifecycleCommand, LifecycleHookName, MergedConfig, WaitFor } from "./types.ts";

const MERGED_KEY = {
  onCreateCommand: "onCreateCommands",
  updateContentCommand: "updateContentCommands",
  postCreateCommand: "postCreateCommands",
  postStartCommand: "postStartCommands",
  postAttachCommand: "postAttachCommands",
} as const satisfies Record<LifecycleHookName, keyof MergedConfig>;

export function lifecycleCommands(merged: MergedConfig, hook: LifecycleHookName): LifecycleCommand[] {
  return [...(merged[MERGED_KEY[hook]] ?? [])];
}

/** The hook the environment is "ready" after (the spec's default: updateContentCommand). */
export function waitFor(merged: MergedConfig): WaitFor {
  return merged.waitFor ?? "updateContentCommand";
}

/** A command as a shell line, for logs and messages. */
export function describeCommand(cmd: LifecycleCommand): string {
  if (typeof cmd === "string") return cmd;
  if (Array.isArray(cmd)) return cmd.map((a) => (/^[\w./=:@-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
  return Object.entries(cmd)
    .map(([name, c]) => `${name}: ${describeCommand(c)}`)
    .join("; ");
}
