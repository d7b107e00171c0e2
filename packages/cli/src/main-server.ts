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
      "--relay-listen <host:port>",
      "internal listener (mutual TLS) other replicas relay live calls to (default with a postgres --db: the --listen host, any port; or WARREN_RELAY_LISTEN)",
    )
    .option(
      "--relay-advertise <url>",
      "https://HOST:PORT other replicas reach that listener at (default its bound address; or WARREN_RELAY_ADVERTISE)",
    )
    .option(
      "--autoscaler-config <file>",
      "the runner autoscaler's pools and providers, JSON or YAML (or WARREN_AUTOSCALER_CONFIG); off without it",
    )
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
    .option("--name <name>", "this runner's name in the fleet, a DNS label (default the hostname)")
    .option(
      "--label <key=value>",
      "a placement label classes can require, e.g. zone=eu (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--root <dir>", "state root: images, disks, handles (default /var/lib/warren, or WARREN_ROOT)")
    .option("--run <dir>", "volatile state: runtime state, sockets (default /run/warren, or WARREN_RUN)")
    .option(
      "--prefix <p>",
      "prefix of this runner's cgroups, containers, firewall table and links (default warren, or WARREN_PREFIX)",
    )
    .addHelpText(
      "after",
      "\nMore than one runner on a host: give each its own --root, --run, --prefix, WARREN_ID_RANGE=START:SIZE\n" +
        "and WARREN_SUBNET=CIDR. A runner refuses to start when any of them overlaps another live runner's.",
    )
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
