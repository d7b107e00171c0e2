// `warren rebuild` and `warren hook run` (repository environments), registered apart from main.ts.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerRepoCommands(program: Command): void {
  program
    .command("rebuild")
    .description(
      "repository environments: read devcontainer.json again, rebuild, restart into it and rerun the create-time hooks (the workspace is kept)",
    )
    .argument("<name>", "environment name")
    .option("--json", "print the environment as JSON")
    .action((name: string, opts) =>
      run(async () => (await import("./commands/rebuild.ts")).rebuildCommand(name, opts)),
    );

  const hook = program
    .command("hook")
    .description("devcontainer.json lifecycle hooks of a repository environment");
  hook
    .command("run")
    .description(
      "run one hook now (onCreateCommand, updateContentCommand, postCreateCommand, postStartCommand, postAttachCommand); exits 1 if it fails",
    )
    .argument("<name>", "environment name")
    .argument("<hook>", "the hook's name")
    .option("--json", "print { hook, exitCode } as JSON")
    .action((name: string, hookName: string, opts) =>
      run(async () => (await import("./commands/hook-run.ts")).hookRunCommand(name, hookName, opts)),
    );
}
