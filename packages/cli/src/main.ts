// The `warren` command. Parsing only: each command's code is imported when it runs, so startup
// stays fast (the first thing a user feels). Exit statuses are decided in run.ts.

import { Command, CommanderError } from "commander";
import { cliVersion } from "./cli-version.ts";
import { addExamples } from "./help-examples.ts";
import { withIngressFlags } from "./ingress-flags.ts";
import { registerAuditCommands } from "./main-audit.ts";
import { registerAutomationCommands } from "./main-automations.ts";
import { registerDevcontainerCommands } from "./main-devcontainer.ts";
import { registerFleetCommands } from "./main-fleet.ts";
import { registerPoolCommands } from "./main-pool.ts";
import { registerPortCommands } from "./main-ports.ts";
import { registerPrebuildCommands } from "./main-prebuild.ts";
import { registerRepoCommands } from "./main-repo.ts";
import { registerSecretCommands } from "./main-secrets.ts";
import { registerServerCommands } from "./main-server.ts";
import { registerSshCommands } from "./main-ssh.ts";
import { registerSshKeyCommands } from "./main-ssh-keys.ts";
import { registerUpCommand } from "./main-up.ts";
import { registerUsageCommands } from "./main-usage.ts";
import { registerUserCommands } from "./main-user.ts";
import { run } from "./run.ts";

const program = new Command("warren")
  .description("Isolated developer environments on plain Linux hosts")
  .version(`warren ${cliVersion()}`, "-v, --version", "print the CLI's version")
  // `warren logs dev -v` is not a request for the version: program flags only before the command.
  .enablePositionalOptions()
  .exitOverride()
  .showHelpAfterError("(add --help for usage)")
  .configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, "warren: ")) });

registerUpCommand(program);

program
  .command("exec")
  .description("run a command in an environment; its output and exit status pass through")
  .argument("<name>", "environment name")
  .argument("<cmd...>", "command and arguments (after --)")
  .option("-t, --tty", "allocate a terminal that follows resizes (needs a terminal on stdin)")
  .option("-i, --interactive", "accepted for docker/kubectl habits: stdin always passes through")
  .option("-u, --user <user>", "run as NAME, UID, NAME:GROUP or UID:GID (default: the environment's user)")
  .option("-w, --workdir <dir>", "working directory inside (default: /workspaces/NAME)")
  .option(
    "-e, --env <name=value>",
    "set a variable for the command (repeatable)",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .action((name: string, cmd: string[], opts) =>
    run(async (ctx) => (await import("./commands/exec.ts")).execCommand(name, cmd, opts, ctx)),
  );

program
  .command("shell")
  .description("open an interactive shell in an environment")
  .argument("<name>", "environment name")
  .option("-u, --user <user>", "run as NAME, UID, NAME:GROUP or UID:GID (default: the environment's user)")
  .option("-w, --workdir <dir>", "working directory inside (default: /workspaces/NAME)")
  .action((name: string, opts) =>
    run(async (ctx) => (await import("./commands/shell.ts")).shellCommand(name, opts, ctx)),
  );

program
  .command("port-forward")
  .description(
    "forward local ports to ports on an environment's 127.0.0.1 until Ctrl-C (a stopped one is started)",
  )
  .argument("<name>", "environment name")
  .argument("<ports...>", "REMOTE (same local port), LOCAL:REMOTE, or :REMOTE (a free local port)")
  .option("--address <addr>", "local addresses to listen on, comma-separated (default: 127.0.0.1)")
  .option("--json", "print one JSON object per event (listening, open, close, error)")
  .action((name: string, ports: string[], opts) =>
    run(async () => (await import("./commands/port-forward.ts")).portForwardCommand(name, ports, opts)),
  );

program
  .command("ls")
  .description("list environments")
  .option("--json", "print Environment objects as JSON")
  .option("--watch", "after the list, print one line per change (with --json, one event per line)")
  .action((opts) => run(async () => (await import("./commands/ls.ts")).lsCommand(opts)));

program
  .command("start")
  .description("start stopped environments and wait until they run")
  .argument("<names...>", "environments to start (each is tried; exit 1 if any failed)")
  .option("--json", "print the environment as JSON (an array for several names)")
  .action((names: string[], opts) =>
    run(async () => (await import("./commands/start.ts")).startCommand(names, opts)),
  );

program
  .command("stop")
  .description("stop environments, keeping their workspaces")
  .argument("<names...>", "environments to stop (each is tried; exit 1 if any failed)")
  .option("--time <seconds>", "grace period before the processes are killed")
  .option("--json", "print the environment as JSON (an array for several names)")
  .action((names: string[], opts) =>
    run(async () => (await import("./commands/stop.ts")).stopCommand(names, opts)),
  );

program
  .command("rm")
  .description("remove environments and their workspaces")
  .argument("<names...>", "environments to remove (each is tried; exit 1 if any failed)")
  .option("-f, --force", "remove even if it is running (asks first on a terminal if its workspace changed)")
  .action((names: string[], opts) =>
    run(async () => (await import("./commands/rm.ts")).rmCommand(names, opts)),
  );

program
  .command("logs")
  .description("show an environment's init output and lifecycle events")
  .argument("<name>", "environment name")
  .option("-f, --follow", "keep printing new output")
  .option("-n, --tail <lines>", "only the last N lines")
  .option("--json", "one JSON object per line: { time (ISO, or null for init output), source, line }")
  .action((name: string, opts) =>
    run(async () => (await import("./commands/logs.ts")).logsCommand(name, opts)),
  );

program
  .command("inspect")
  .description("show desired and observed state, host pid, IP address, uid range, cgroups and PSI")
  .argument("<name>", "environment name")
  .option("--json", "print the Environment object as JSON")
  .action((name: string, opts) =>
    run(async () => (await import("./commands/inspect.ts")).inspectCommand(name, opts)),
  );

program
  .command("set")
  .description(
    "change a running environment's cpus, memory or pids limit live (kept across restarts), or its idle timeout",
  )
  .argument("<name>", "environment name")
  .option("--cpus <n>", "cpus, within the class's bounds")
  .option("--memory <size>", "memory, e.g. 512m, 2g; refused below what the environment uses")
  .option("--pids <n>", "process limit")
  .option("--idle-timeout <duration>", "stop it after this long without use, e.g. 30m, 2h, or never")
  .option("--json", "print the environment as JSON")
  .action((name: string, opts) =>
    run(async () => (await import("./commands/set.ts")).setCommand(name, opts)),
  );

program
  .command("stats")
  .description("live cpu, memory, pids, disk, PSI and OOM kills of running environments")
  .argument("[name]", "only this environment (default: every running one)")
  .option("--json", "print EnvStats as JSON (one line per refresh with --watch)")
  .option("-w, --watch", "refresh every 2 s until ^C")
  .action((name: string | undefined, opts) =>
    run(async () => (await import("./commands/stats.ts")).statsCommand(name, opts)),
  );

const cls = program.command("class").description("manage resource classes");
cls
  .command("ls")
  .description("list classes")
  .option("--json", "print ClassSpec objects as JSON")
  .action((opts) => run(async () => (await import("./commands/class-ls.ts")).classLsCommand(opts)));
cls
  .command("create")
  .description("create a class")
  .argument("<name>", "class name: lowercase letters, digits and dashes")
  .requiredOption("--cpus <n>", "cpus an environment gets by default (required)")
  .requiredOption("--memory <size>", "memory an environment gets by default, e.g. 2g (required)")
  .requiredOption("--disk <size>", "workspace disk an environment gets by default, e.g. 20g (required)")
  .option("--pids <n>", "process limit")
  .option("--runtime <runtime>", "runc, crun or gvisor")
  .option("--max-cpus <n>", "largest --cpus an environment may ask for")
  .option("--max-memory <size>", "largest --memory an environment may ask for")
  .option("--max-disk <size>", "largest --disk an environment may ask for")
  .option("--egress <policy>", "where its environments may connect: all (default), none, or CIDR[,CIDR...]")
  .option("--idle-timeout <duration>", "longest its environments may go unused, e.g. 2h (default: no limit)")
  .option(
    "--require-label <key=value>",
    "a label runners must carry to take its environments, e.g. zone=eu (repeatable)",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option("--cpu-overcommit <n>", "CPU limits placed per runner core, 1 to 64 (default 4)")
  .option("--memory-overcommit <n>", "memory limits placed per byte of runner memory, 1 to 1.5 (default 1)")
  .option("--disk-overcommit <n>", "disk sizes placed per byte of runner free disk, 1 to 64 (default 4)")
  .option("--read-bps <rate>", "disk read bandwidth per environment, e.g. 50M (default: no limit)")
  .option("--write-bps <rate>", "disk write bandwidth per environment, e.g. 50M (default: no limit)")
  .option("--read-iops <n>", "disk read operations per second per environment (default: no limit)")
  .option("--write-iops <n>", "disk write operations per second per environment (default: no limit)")
  .option(
    "--cpu-burst <cores>",
    "cores the CPU governor may raise a throttled environment to while the host is idle, --cpus to 64 (default: the runner's 2 × cpus)",
  )
  .option("--json", "print the ClassSpec as JSON")
  .action((name: string, opts) =>
    run(async () => (await import("./commands/class-create.ts")).classCreateCommand(name, opts)),
  );
cls
  .command("rm")
  .description("remove a class (refused while an environment uses it)")
  .argument("<name>", "class name")
  .action((name: string) => run(async () => (await import("./commands/class-rm.ts")).classRmCommand(name)));

const image = program.command("image").description("manage images");
image
  .command("import")
  .description("import an OCI image layout or archive from a path on this host")
  .argument("<path>", "an OCI image layout directory, or a tar archive of one")
  .option("--ref <ref>", "reference to store it under")
  .option("--json", "print the ImageInfo as JSON")
  .action((path: string, opts) =>
    run(async () => (await import("./commands/image-import.ts")).imageImportCommand(path, opts)),
  );
image
  .command("pull")
  .description("pull an image from a registry (HOST[:PORT]/REPO[:TAG] or @sha256:DIGEST)")
  .argument("<ref>", "image reference, e.g. docker.io/library/alpine:3.20")
  .option("--json", "print the ImageInfo as JSON")
  .action((ref: string, opts) =>
    run(async () => (await import("./commands/image-pull.ts")).imagePullCommand(ref, opts)),
  );
image
  .command("ls")
  .description("list images")
  .option("--json", "print ImageInfo objects as JSON")
  .action((opts) => run(async () => (await import("./commands/image-ls.ts")).imageLsCommand(opts)));
image
  .command("rm")
  .description("remove an image (refused while an environment uses it)")
  .argument("<ref>", "image reference as `warren image ls` shows it")
  .option("--json", "print the removed layers as JSON")
  .action((ref: string, opts) =>
    run(async () => (await import("./commands/image-rm.ts")).imageRmCommand(ref, opts)),
  );
image
  .command("prune")
  .description("remove unreferenced layers, and unused images past the cache cap (least recently used first)")
  .option("--json", "print what was removed as JSON")
  .action((opts) => run(async () => (await import("./commands/image-prune.ts")).imagePruneCommand(opts)));

const dns = program.command("dns").description("the runner's DNS cache");
dns
  .command("stats")
  .description("show cache hits and misses, upstream queries, errors and latency")
  .option("--json", "print DnsStats as JSON")
  .action((opts) => run(async () => (await import("./commands/dns-stats.ts")).dnsStatsCommand(opts)));

const registry = program.command("registry").description("manage registry logins used for pulls");
registry
  .command("login")
  .description("store a login for a registry host (the password is read from the terminal or stdin)")
  .argument("<host>", "registry host, e.g. ghcr.io or registry.local:5000")
  .option("-u, --username <user>", "user name")
  .option("--password-stdin", "read the password from stdin")
  .option("--json", "print the stored login (without the password) as JSON")
  .action((host: string, opts) =>
    run(async () => (await import("./commands/registry-login.ts")).registryLoginCommand(host, opts)),
  );
registry
  .command("logout")
  .description("remove the stored login for a registry host")
  .argument("<host>", "registry host as `warren registry ls` shows it")
  .action((host: string) =>
    run(async () => (await import("./commands/registry-logout.ts")).registryLogoutCommand(host)),
  );
registry
  .command("ls")
  .description("list registry hosts with stored logins (usernames only)")
  .option("--json", "print RegistryLogin objects as JSON")
  .action((opts) => run(async () => (await import("./commands/registry-ls.ts")).registryLsCommand(opts)));

const admin = program.command("admin").description("administer the daemon (as root on the local socket)");
admin
  .command("token")
  .description("tokens for remote use")
  .command("create")
  .description("create a personal token for the owner and print it once")
  .option("--name <name>", "a label to recognise it by")
  .option("--expires-days <days>", "lifetime in days (default 30, at most the server's maximum)")
  .option(
    "--scope <scope>",
    "narrow the token (repeatable): metrics:read may read /metrics and nothing else",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option("--json", "print { id, token, expiresAt } as JSON")
  .action((opts) =>
    run(async () => (await import("./commands/admin-token-create.ts")).adminTokenCreateCommand(opts)),
  );

admin
  .command("fingerprint")
  .description("print the SHA-256 fingerprint of the daemon's TLS certificate (for `warren login`)")
  .option("--json", "print { fingerprint, certFile } as JSON")
  .action((opts) =>
    run(async () => (await import("./commands/admin-fingerprint.ts")).adminFingerprintCommand(opts)),
  );

program
  .command("login")
  .description("save a remote server (pinned by its certificate fingerprint) as the current context")
  .argument("<url>", "the server's address, https://HOST:PORT")
  .requiredOption(
    "--fingerprint <sha256>",
    "the server's certificate fingerprint (`warren admin fingerprint`) (required)",
  )
  .option("--token <token>", "API token (wrn_...)")
  .option("--token-stdin", "read the API token from stdin")
  .option("--name <name>", "context name (default: HOST:PORT)")
  .action((url: string, opts) =>
    run(async () => (await import("./commands/login.ts")).loginCommand(url, opts)),
  );

const context = program.command("context").description("choose which server the CLI talks to");
context
  .command("ls")
  .description("list saved servers (never their tokens); * marks the current one")
  .option("--json", "print as JSON")
  .action((opts) => run(async () => (await import("./commands/context-ls.ts")).contextLsCommand(opts)));
context
  .command("use")
  .description("talk to NAME from now on (`local` is this host's socket)")
  .argument("<name>", "context name as `warren context ls` shows it")
  .action((name: string) =>
    run(async () => (await import("./commands/context-use.ts")).contextUseCommand(name)),
  );
context
  .command("rm")
  .description("forget a saved server and its token")
  .argument("<name>", "context name as `warren context ls` shows it")
  .action((name: string) =>
    run(async () => (await import("./commands/context-rm.ts")).contextRmCommand(name)),
  );

const token = program.command("token").description("manage your API tokens");
token
  .command("ls")
  .description("list your tokens (never their secrets)")
  .option("--json", "print TokenInfo objects as JSON")
  .action((opts) => run(async () => (await import("./commands/token-ls.ts")).tokenLsCommand(opts)));
token
  .command("revoke")
  .description("revoke a token; its next call fails")
  .argument("<id>", "token id as `warren token ls` shows it")
  .action((id: string) =>
    run(async () => (await import("./commands/token-revoke.ts")).tokenRevokeCommand(id)),
  );

registerAuditCommands(program);
registerSecretCommands(program);
registerSshKeyCommands(program);
registerUserCommands(program);
registerPrebuildCommands(program);
registerPoolCommands(program);
registerUsageCommands(program);
registerFleetCommands(program);
registerPortCommands(program);
registerSshCommands(program);
registerServerCommands(program);
registerDevcontainerCommands(program);
registerRepoCommands(program);

program
  .command("dashboard")
  .description("print a one-time sign-in link for the web dashboard (60 s, one use), or open it")
  .option("--open", "open the link in the browser (xdg-open) where there is a display")
  .option("--json", "print { url, expiresAt } as JSON")
  .action((opts) => run(async () => (await import("./commands/dashboard.ts")).dashboardCommand(opts)));

program
  .command("whoami")
  .description("show the user, organisation and role the daemon sees")
  .option("--json", "print as JSON")
  .action((opts) => run(async () => (await import("./commands/whoami.ts")).whoamiCommand(opts)));

withIngressFlags(
  program
    .command("daemon")
    .description("run the Warren daemon in the foreground")
    .option(
      "--listen <host:port>",
      "also serve the API remotely over TLS, e.g. 0.0.0.0:7443 (or WARREN_LISTEN)",
    )
    .option("--db <url>", "keep the store in PostgreSQL (postgres://...) instead of SQLite (or WARREN_DB)"),
).action((opts) => run(async () => (await import("./commands/daemon.ts")).daemonCommand(opts)));

program
  .command("version")
  .description("print the CLI's and the daemon's versions")
  .option("--json", "print as JSON")
  .action((opts) => run(async () => (await import("./commands/version.ts")).versionCommand(opts)));

registerAutomationCommands(program);
addExamples(program);

// `warren ls | head` closes stdout early; that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

try {
  // Bare `warren` is a request for help, not a mistake.
  if (process.argv.length <= 2) program.help();
  await program.parseAsync();
} catch (err) {
  // Commander has printed its message (unknown command, missing argument, --help).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 1);
  throw err;
}
