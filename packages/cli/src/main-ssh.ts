// `warren ssh` and `warren ssh-config`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerSshCommands(program: Command): void {
  program
    .command("ssh")
    .description(
      "connect to an environment with the system ssh through the SSH gateway (host key pinned); " +
        "a command's exit status passes through, ssh's own failure exits 125",
    )
    .argument("<env>", "environment name, or NAME.ORG when the name alone is ambiguous")
    .argument("[cmd...]", "command to run instead of a login shell (after --)")
    .option("-i, --identity <file>", "private key to log in with (default: ssh's own, and your agent's)")
    .option("-A, --forward-agent", "let the environment use this machine's ssh-agent, e.g. for git push")
    .option(
      "-L, --local-forward <spec>",
      "forward a local port, as ssh -L [BIND:]PORT:HOST:HOSTPORT (repeatable)",
      collect,
    )
    .option("-t, --tty", "allocate a terminal even for a command")
    .action((env: string, cmd: string[], opts, _c) =>
      run(async (ctx) => (await import("./commands/ssh.ts")).sshCommand(env, cmd, opts, ctx)),
    );

  program
    .command("ssh-config")
    .description(
      "print an OpenSSH config block so that `ssh ENV.warren` reaches each environment you can see, " +
        "or install it with --write; the gateway's host key is pinned in ~/.config/warren/ssh/known_hosts",
    )
    .option("--write", "install the block into ~/.ssh/config between markers (again replaces it in place)")
    .option("--ssh-config <file>", "the file --write installs into (default: ~/.ssh/config)")
    .option(
      "-i, --identity <file>",
      "name this private key in every Host entry (IdentityFile, IdentitiesOnly)",
    )
    .option("--json", "print the context, host key and hosts as JSON")
    .action((opts) => run(async () => (await import("./commands/ssh-config.ts")).sshConfigCommand(opts)));
}
