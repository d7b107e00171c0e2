// `warren fleet`: the organisation's runners and which of them take new environments (admins),
// registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

const ACTIONS = {
  cordon: "keep new environments off a runner; its environments keep running",
  uncordon: "let a cordoned or drained runner take new environments again",
  drain: "cordon a runner and stop every environment on it that runs (gracefully); they stay on it, stopped",
} as const;

export function registerFleetCommands(program: Command): void {
  const fleet = program.command("fleet").description("the organisation's runners (admins)");
  fleet
    .command("ls")
    .description(
      "each runner's state, labels, CPU, memory and disk (allocated/capacity, used), environments and last heartbeat",
    )
    .option("--json", "print the runners (and the autoscaler's last decisions) as JSON")
    .action((opts) => run(async () => (await import("./commands/fleet-ls.ts")).fleetLsCommand(opts)));
  for (const [action, description] of Object.entries(ACTIONS)) {
    fleet
      .command(action)
      .description(description)
      .argument("<name>", "runner name as `warren fleet ls` shows it")
      .option("--json", "print the runner (and, for drain, the environments stopping) as JSON")
      .action((name: string, opts: { json?: boolean }) =>
        run(async () =>
          (await import("./commands/fleet-cordon.ts")).fleetActionCommand(
            action as keyof typeof ACTIONS,
            name,
            opts,
          ),
        ),
      );
  }
}
