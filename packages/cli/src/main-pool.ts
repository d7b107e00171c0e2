// `warren pool`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerPoolCommands(program: Command): void {
  const pool = program
    .command("pool")
    .description("warm pools: ready environments of an image and class that a plain `warren up` takes over");
  pool
    .command("set")
    .description("create or replace the pool of IMAGE and --class (admins)")
    .argument("<image>", "the image its environments run, as `warren up --image` names it")
    .option("--class <class>", "the class (default: default)")
    .option("--min <n>", "ready environments kept at least")
    .option("--max <n>", "never more than this (default: --min)")
    .option(
      "--schedule <windows>",
      'UTC windows raising the minimum, e.g. "mon-fri 08:00-18:00=5"; "" for none',
    )
    .option("--json", "print the pool as JSON")
    .action((image, opts) =>
      run(async () => (await import("./commands/pool.ts")).poolSetCommand(image, opts)),
    );
  pool
    .command("ls")
    .description("list the organisation's warm pools and what they hold (admins)")
    .option("--json", "print them as JSON")
    .action((opts) => run(async () => (await import("./commands/pool.ts")).poolLsCommand(opts)));
  pool
    .command("rm")
    .description("remove the pool of IMAGE and --class; its unclaimed environments are removed (admins)")
    .argument("<image>", "the pool's image")
    .option("--class <class>", "the pool's class (default: default)")
    .action((image, opts) =>
      run(async () => (await import("./commands/pool.ts")).poolRmCommand(image, opts)),
    );
}
