// `warren secret` and `warren admin rotate-key`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerSecretCommands(program: Command): void {
  const secret = program.command("secret").description("secrets for environments (values are write-only)");
  secret
    .command("set")
    .description(
      "store a secret: an environment variable (--env) or a file (--file), kept in memory inside the environment",
    )
    .argument("<name>", "a variable name for --env; for --file, letters, digits, '_', '.' and '-'")
    .option("--env", "deliver as an environment variable NAME (pick one of --env or --file)")
    .option(
      "--file [path]",
      "deliver as a 0400 file at PATH (default /run/secrets/NAME); a path outside /run/secrets, e.g. /etc/app/app.conf, becomes a symlink into it",
    )
    .option("--scope <scope>", "org, user or project", "user")
    .option("--project <url>", "the repository URL, for --scope project")
    .option(
      "--allow <who>",
      "with --scope project: only these receive it, user:NAME or role:member|admin|owner (repeat, or comma-separate; `any` lifts a restriction). Default: every member who names the project",
      (v: string, prev: string[] = []) => [...prev, ...v.split(",")],
    )
    .option("--value-stdin", "read the value from stdin (otherwise typed without echo)")
    .option("--json", "print the stored secret (without its value) as JSON")
    .action((name: string, opts) =>
      run(async () => (await import("./commands/secret.ts")).secretSetCommand(name, opts)),
    );
  secret
    .command("ls")
    .description("list secrets: names, scopes and kinds, never values")
    .option("--json", "print SecretInfo objects as JSON")
    .action((opts) => run(async () => (await import("./commands/secret.ts")).secretLsCommand(opts)));
  secret
    .command("rm")
    .description("remove a secret")
    .argument("<name>", "secret name as `warren secret ls` shows it")
    .option("--scope <scope>", "org, user or project", "user")
    .option("--project <url>", "the repository URL, for --scope project")
    .action((name: string, opts) =>
      run(async () => (await import("./commands/secret.ts")).secretRmCommand(name, opts)),
    );

  const admin = program.commands.find((c) => c.name() === "admin") ?? program.command("admin");
  admin
    .command("rotate-key")
    .description("re-encrypt every secret and registry login under new keys (owners)")
    .option("--json", "print the counts as JSON")
    .action((opts) => run(async () => (await import("./commands/secret.ts")).rotateKeyCommand(opts)));
}
