// `warren up`, registered apart from main.ts: its flags (resources, repositories) are the longest list.
import type { Command } from "commander";
import { run } from "./run.ts";

export function registerUpCommand(program: Command): void {
  program
    .command("up")
    .description("create or start an environment, then run CMD in it, open a shell, or print it")
    .argument("[cmd...]", "command to run in the environment (after --)")
    .option("--name <name>", "environment name (default: generated)")
    .option("--class <class>", "resource class")
    .option("--image <ref>", "image reference")
    .option("--cpus <n>", "cpus, within the class's bounds")
    .option("--memory <size>", "memory, e.g. 512m, 2g, 2Gi")
    .option("--disk <size>", "workspace disk, e.g. 10g")
    .option("--runtime <runtime>", "runc, crun or gvisor")
    .option("--project <url>", "the repository it works on (its project secrets reach it)")
    .option(
      "--user <name>",
      "who exec and shell land as; owns the workspace folder and can read the secrets (made if the image lacks it) (default: root)",
    )
    .option(
      "--idle-timeout <duration>",
      "stop it (keeping its disk) after this long without use, e.g. 30m, 2h, or never (default: 30m, within the class's and organisation's limits)",
    )
    .option("-d, --detach", "don't open a shell even on a terminal")
    .option("--json", "print the environment as JSON")
    .option(
      "--repo <url|dir>",
      "make it from a repository: an https or ssh git URL, a directory (uploaded), or . (this checkout's origin and branch); clones, reads devcontainer.json, builds, runs its hooks; sets --project",
    )
    .option("--branch <branch>", "with --repo: the branch or tag to check out")
    .option(
      "--devcontainer <path>",
      "with --repo: the devcontainer.json to use, relative to the repository root",
    )
    .option(
      "--known-host <line>",
      "with an ssh --repo: a pinned host key (a known_hosts line, repeatable); host keys are always checked",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "-y, --yes",
      "with --repo: run devcontainer.json's initializeCommand on this machine without asking",
    )
    .action((cmd: string[], opts, _c) =>
      run(async (ctx) => (await import("./commands/up.ts")).upCommand(cmd, opts, ctx)),
    );
}
