// `warren service` and `warren task`: a repository environment's automations
// (.warren/automations.yaml), registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerAutomationCommands(program: Command): void {
  const service = program
    .command("service")
    .description("an environment's services from .warren/automations.yaml: list, start, stop, restart, logs");
  service
    .command("ls")
    .description("list the services with their state, restarts and what they wait for")
    .argument("<env>", "environment name")
    .option("--json", "print the ServiceList as JSON")
    .action((env: string, opts) =>
      run(async () => (await import("./commands/service-ls.ts")).serviceLsCommand(env, opts)),
    );
  for (const [action, what] of [
    ["start", "start a service (and the services it depends on)"],
    ["stop", "stop a service; it stays stopped until started (or the environment starts again)"],
    ["restart", "restart a service"],
  ] as const) {
    service
      .command(action)
      .description(what)
      .argument("<env>", "environment name")
      .argument("<service>", "service name")
      .option("--json", "print the ServiceStatus as JSON")
      .action((env: string, name: string, opts) =>
        run(async () =>
          (await import("./commands/service-action.ts")).serviceActionCommand(action, env, name, opts),
        ),
      );
  }
  service
    .command("logs")
    .description("print the last lines of a service's output")
    .argument("<env>", "environment name")
    .argument("<service>", "service name")
    .option("-n, --tail <n>", "lines from the end (default 200)")
    .action((env: string, name: string, opts) =>
      run(async () =>
        (await import("./commands/service-logs.ts")).unitLogsCommand("service", env, name, opts),
      ),
    );

  const task = program
    .command("task")
    .description("an environment's tasks from .warren/automations.yaml: list, run, logs");
  task
    .command("ls")
    .description("list the tasks with their state, runs, exit status and triggers")
    .argument("<env>", "environment name")
    .option("--json", "print the TaskList as JSON")
    .action((env: string, opts) =>
      run(async () => (await import("./commands/task-ls.ts")).taskLsCommand(env, opts)),
    );
  task
    .command("run")
    .description("run a task (its dependencies first), print its output and exit with its status")
    .argument("<env>", "environment name")
    .argument("<task>", "task name")
    .option("--json", "print the TaskStatus as JSON instead of the output")
    .action((env: string, name: string, opts) =>
      run(async () => (await import("./commands/task-run.ts")).taskRunCommand(env, name, opts)),
    );
  task
    .command("logs")
    .description("print the last lines of a task's output")
    .argument("<env>", "environment name")
    .argument("<task>", "task name")
    .option("-n, --tail <n>", "lines from the end (default 200)")
    .action((env: string, name: string, opts) =>
      run(async () => (await import("./commands/service-logs.ts")).unitLogsCommand("task", env, name, opts)),
    );
}
