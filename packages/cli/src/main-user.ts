// `warren user`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerUserCommands(program: Command): void {
  const user = program.command("user").description("your developer identity in environments");
  user
    .command("set")
    .description(
      "set the git name and email, and the dotfiles repository, every environment you create from a repository gets (an empty value clears one)",
    )
    .option("--git-name <name>", 'git config user.name, e.g. "Ada Lovelace"')
    .option("--git-email <email>", "git config user.email")
    .option(
      "--dotfiles <url>",
      "a git URL cloned to ~/dotfiles; its install script (install.sh, bootstrap.sh, setup.sh, ...) runs as you after the lifecycle hooks",
    )
    .option("--json", "print the stored settings as JSON")
    .action((opts) => run(async () => (await import("./commands/user-set.ts")).userSetCommand(opts)));
  user
    .command("show")
    .description("print your git name, email and dotfiles repository")
    .option("--json", "print them as JSON")
    .action((opts) => run(async () => (await import("./commands/user-set.ts")).userShowCommand(opts)));
}
