// `warren usage` and `warren top`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerUsageCommands(program: Command): void {
  program
    .command("usage")
    .description(
      "environment time and allocated CPU, memory and disk over a period, with the CPU runners measured (members: their own; admins: the organisation)",
    )
    .option(
      "--since <time>",
      "start: a duration back from now (12h, 7d, 2w) or an ISO date (default: 30 days ago)",
    )
    .option("--until <time>", "end: a duration back from now or an ISO date (default: now)")
    .option("--by <group>", "group by user, project, class or org (default: user)")
    .option("--json", "print the report as JSON")
    .option("--csv", "print the report as CSV")
    .action((opts) => run(async () => (await import("./commands/usage.ts")).usageCommand(opts)));
  program
    .command("top")
    .description(
      "a live, full-screen table of environments (CPU, memory, PSI, disk, network) and runners, every 2 s",
    )
    .option("--runner <runner>", "only this runner (its id or hostname)")
    .option("--sort <key>", "sort environments by cpu, mem or psi (default: cpu)")
    .option("--once", "print one snapshot and exit")
    .option("--json", "print one snapshot as JSON (with --once, or alone)")
    .action((opts) => run(async () => (await import("./commands/top.ts")).topCommand(opts)));
}
