// `warren prebuild`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerPrebuildCommands(program: Command): void {
  const prebuild = program
    .command("prebuild")
    .description(
      "prebuild a repository (clone, build, onCreateCommand, updateContentCommand) so `warren up --repo` starts from it",
    )
    .option("--repo <url>", "the repository: an https or ssh git URL")
    .option("--branch <branch>", "the branch (default: the remote's default branch)")
    .option("--every <duration>", "run it again this often (at least 10m), e.g. 6h")
    .option("--devcontainer <path>", "the devcontainer.json to use, relative to the repository root")
    .option("--json", "print the prebuild as JSON")
    .action((opts) => run(async () => (await import("./commands/prebuild.ts")).prebuildCommand(opts)));
  prebuild
    .command("ls")
    .description("list the organisation's prebuilds")
    .option("--json", "print them as JSON")
    .action((opts) => run(async () => (await import("./commands/prebuild.ts")).prebuildLsCommand(opts)));
  prebuild
    .command("rm")
    .description("remove a prebuild (by id, or by repository URL and --branch) and its disk template")
    .argument("<id-or-repo>", "a prebuild id (pb_...) or the repository URL")
    .option("--branch <branch>", "the branch, with a repository URL")
    .action((idOrRepo, opts) =>
      run(async () => (await import("./commands/prebuild.ts")).prebuildRmCommand(idOrRepo, opts)),
    );
}
