// `warren devcontainer`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerDevcontainerCommands(program: Command): void {
  const dc = program
    .command("devcontainer")
    .description("a repository's devcontainer.json as Warren reads it");
  dc.command("read-config")
    .description(
      "print the merged devcontainer.json of a directory or git repository (variables resolved, local Features merged, policy refusals shown)",
    )
    .argument(
      "[dir-or-git-url]",
      "a local directory (default: .) or a git URL (cloned shallowly to a temporary folder)",
    )
    .option(
      "--devcontainer <path>",
      "which devcontainer.json, relative to the repository (default: discovered)",
    )
    .option(
      "--image-metadata <file>",
      "a file holding the image's devcontainer.metadata label, to merge it too",
    )
    .option(
      "--json",
      "print { configFile, workspaceFolder, configuration, mergedConfiguration, features, warnings, refused } as JSON",
    )
    .action((target: string | undefined, opts) =>
      run(async () =>
        (await import("./commands/devcontainer-read-config.ts")).devcontainerReadConfigCommand(target, opts),
      ),
    );
}
