// `warren audit` and `warren quota`, registered apart from main.ts to keep that file readable.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the organisation's audit log (admins)");
  audit
    .command("ls")
    .description("list audit records, newest first")
    .option("--actor <actor>", 'a user id, "runner:<token id>" or "local-root"')
    .option("--action <action>", "e.g. environment.create, token.revoke, quota.set")
    .option(
      "--since <when>",
      "records at or after this time: a duration back from now (30m, 2h, 1d) or ISO-8601",
    )
    .option("--until <when>", "records before this time: a duration back from now (30m, 2h, 1d) or ISO-8601")
    .option("--limit <n>", "at most this many records (default 100)")
    .option("--json", "print AuditRecord objects as JSON")
    .action((opts) => run(async () => (await import("./commands/audit-ls.ts")).auditLsCommand(opts)));

  const quota = program.command("quota").description("organisation quotas (admins)");
  quota
    .command("get")
    .description("show the quotas and what is in use")
    .option("--org <org>", "organisation (default: yours)")
    .option("--json", "print as JSON")
    .action((opts) => run(async () => (await import("./commands/quota-get.ts")).quotaGetCommand(opts)));
  quota
    .command("set")
    .description('set quotas; "unlimited" clears one')
    .option("--org <org>", "organisation (default: yours)")
    .option("--cpus <n>", "total cpus over the organisation's environments")
    .option("--memory <size>", "total memory, e.g. 64g")
    .option("--disk <size>", "total disk, e.g. 500g")
    .option("--user-max-running <n>", "running environments per user")
    .option("--token-max-days <n>", "longest lifetime of the organisation's tokens (at most the server's)")
    .option(
      "--max-idle-timeout <duration>",
      'longest an environment may go unused before it stops, e.g. 2h; "never" clears it',
    )
    .option(
      "--public-ports <policy>",
      "allow or deny public ports (`warren port set --visibility public`); default deny",
    )
    .option("--json", "print as JSON")
    .action((opts) => run(async () => (await import("./commands/quota-set.ts")).quotaSetCommand(opts)));
}
