// `warren port`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerPortCommands(program: Command): void {
  const port = program
    .command("port")
    .description("an environment's ports: what listens, who may reach it through the port proxy, its URL");
  port
    .command("ls")
    .description("list the TCP ports listening in an environment, with visibility, process and URL")
    .argument("<env>", "environment name")
    .option("--json", "print the EnvPortList as JSON")
    .action((env: string, opts) =>
      run(async () => (await import("./commands/port-ls.ts")).portLsCommand(env, opts)),
    );
  port
    .command("set")
    .description(
      "set who may reach a port (private: you; org: your organisation; public: anyone) and print its URL",
    )
    .argument("<env>", "environment name")
    .argument("<port>", "TCP port inside the environment, 1-65535")
    .option("--visibility <v>", "private, org or public (public only where the organisation allows it)")
    .option("--json", "print the EnvPort as JSON")
    .action((env: string, p: string, opts) =>
      run(async () => (await import("./commands/port-set.ts")).portSetCommand(env, p, opts)),
    );
  port
    .command("open")
    .description("open a port's URL in the browser with a one-time sign-in link (printed without a browser)")
    .argument("<env>", "environment name")
    .argument("<port>", "TCP port inside the environment, 1-65535")
    .option("--print", "print the link instead of opening it")
    .action((env: string, p: string, opts) =>
      run(async () => (await import("./commands/port-open.ts")).portOpenCommand(env, p, opts)),
    );
}
