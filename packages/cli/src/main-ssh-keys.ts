// `warren ssh-key`, registered apart from main.ts to keep it readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerSshKeyCommands(program: Command): void {
  const key = program.command("ssh-key").description("your SSH public keys for the SSH gateway");
  key
    .command("add")
    .description(
      "register a public key: ed25519, ECDSA, or RSA of 3072 bits or more (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)",
    )
    .argument("[file]", "the .pub file to read; - reads stdin")
    .option("--name <name>", "a name to tell it apart (default: the key's comment)")
    .option("--json", "print the added SshKey as JSON")
    .action((file: string | undefined, opts) =>
      run(async () => (await import("./commands/ssh-key-add.ts")).sshKeyAddCommand(file, opts)),
    );
  key
    .command("ls")
    .description("list your SSH keys")
    .option("--all", "every member's keys in the organisation (admins)")
    .option("--json", "print SshKey objects as JSON")
    .action((opts) => run(async () => (await import("./commands/ssh-key-ls.ts")).sshKeyLsCommand(opts)));
  key
    .command("rm")
    .description("remove an SSH key; SSH sessions it opened end")
    .argument("<id>", "key id as `warren ssh-key ls` shows it")
    .action((id: string) => run(async () => (await import("./commands/ssh-key-rm.ts")).sshKeyRmCommand(id)));
}
