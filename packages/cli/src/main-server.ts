// `warren server` and `warren runner`: the control plane and a host's runner as separate
// processes, for more than one host (the embedded `warren daemon` is both in one).
import type { Command } from "commander";
import { withIngressFlags } from "./ingress-flags.ts";
import { run } from "./run.ts";

export function registerServerCommands(program: Command): void {
  const server = program
    .command("server")
    .description("run the control plane alone; runners on other hosts connect to it (`warren runner`)")
    .option(
      "--db <url|dir>",
      "postgres://USER@HOST/DB to share the store between servers, or a directory for SQLite (or WARREN_DB)",
    )
    .option(
      "--listen <host:port>",
      "TLS listener for users and runners (default 127.0.0.1:7443, or WARREN_LISTEN)",
    )
    .option("--root <dir>", "keys and the TLS certificate (and SQLite) (default /var/lib/warren-server)")
    .option("--socket <path>", "root-only local socket (default /run/warren-server/warren.sock)")
    .option(
      "--default-runtime <name>",
      "crun, runc or gvisor, when neither request nor class names one",
      "crun",
    );
  withIngressFlags(server).action((opts) =>
    run(async () => (await import("./commands/server.ts")).serverCommand(opts)),
  );

  program
    .command("runner")
    .description("serve this host's environments for a remote `warren server`")
    .requiredOption("--server <url>", "https://HOST:PORT of the server (required)")
    .requiredOption(
      "--fingerprint <sha256>",
      "the server's certificate fingerprint (`warren admin fingerprint`) (required)",
    )
    .option("--token-file <file>", "file holding the runner token (wrn_r_...); or set WARREN_RUNNER_TOKEN")
    .action((opts) => run(async () => (await import("./commands/runner.ts")).runnerCommand(opts)));

  const admin = program.commands.find((c) => c.name() === "admin");
  admin
    ?.command("runner-token")
    .description("tokens for `warren runner` on other hosts")
    .command("create")
    .description("create a runner token (wrn_r_...) for your organisation and print it once (admins)")
    .option("--name <name>", "a label, e.g. the host's name")
    .option("--expires-days <days>", "lifetime in days (default 30, at most the server's maximum)")
    .option("--json", "print { id, token, expiresAt } as JSON")
    .action((opts) =>
      run(async () =>
        (await import("./commands/admin-token-create.ts")).adminTokenCreateCommand(opts, "runner"),
      ),
    );
}
