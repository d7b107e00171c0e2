// `warren up --repo`: what the CLI does on the user's machine. A git URL is passed on; `.` means
// this checkout's origin and branch; any other directory is read here and uploaded as a tar (the
// control plane never opens a path on a host for a user). initializeCommand runs here, after
// asking. ${localEnv:X} values come from this shell, and only the names the config uses.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { findDevcontainerConfigs, localEnvNames, parseDevcontainer } from "@warren/devcontainer";
import {
  type ApiClient,
  type LifecycleCommand,
  normalizeProject,
  type RepoSource,
  WarrenError,
} from "@warren/protocol";

export interface RepoOptions {
  repo: string;
  branch?: string;
  devcontainer?: string;
  knownHost?: string[];
  yes?: boolean;
}

const looksLikeUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[^/\s]+@[^/\s:]+:/.test(s);

function git(dir: string, args: string[]): string | undefined {
  const r = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The local folder whose devcontainer.json the CLI can read (for localEnv and initializeCommand). */
function localFolder(repo: string): string | undefined {
  if (looksLikeUrl(repo)) return undefined;
  const dir = path.resolve(repo);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--repo ${repo}: no such directory; give a git URL (https://… or git@host:org/repo.git), a directory, or . for this checkout`,
    );
  }
  return dir;
}

function readLocalConfig(dir: string, pick: string | undefined): { file: string; text: string } | undefined {
  const candidates = pick
    ? [pick]
    : findDevcontainerConfigs(
        [".devcontainer/devcontainer.json", ".devcontainer.json"]
          .concat(
            existsSync(path.join(dir, ".devcontainer"))
              ? spawnSync("ls", [path.join(dir, ".devcontainer")], { encoding: "utf8" })
                  .stdout.split("\n")
                  .filter(Boolean)
                  .map((n) => `.devcontainer/${n}/devcontainer.json`)
              : [],
          )
          .filter((f) => existsSync(path.join(dir, f))),
      );
  const file = candidates[0];
  if (!file || !existsSync(path.join(dir, file))) return undefined;
  return { file, text: readFileSync(path.join(dir, file), "utf8") };
}

/** The source to send, uploading a directory first. */
export async function repoSource(
  client: ApiClient,
  o: RepoOptions,
): Promise<{ source: RepoSource; project?: string; local?: string }> {
  const dir = localFolder(o.repo);
  const common = {
    ...(o.branch ? { branch: o.branch } : {}),
    ...(o.devcontainer ? { devcontainerPath: o.devcontainer } : {}),
    ...(o.knownHost?.length ? { knownHosts: o.knownHost } : {}),
  };
  const localEnv: Record<string, string> = {};
  if (dir) {
    const cfg = readLocalConfig(dir, o.devcontainer);
    for (const n of cfg ? localEnvNames(cfg.text) : []) {
      const v = process.env[n];
      if (v !== undefined) localEnv[n] = v;
    }
  }
  const withEnv = Object.keys(localEnv).length ? { localEnv } : {};
  if (!dir) return { source: { url: o.repo, ...common }, project: o.repo };
  const origin = git(dir, ["remote", "get-url", "origin"]);
  if (o.repo === ".") {
    if (!origin)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        "--repo .: this folder is not a git checkout with an origin; give the directory's path to upload it, or a git URL",
      );
    const branch = o.branch ?? git(dir, ["rev-parse", "--abbrev-ref", "HEAD"]);
    return {
      source: {
        url: origin,
        ...common,
        ...(branch && branch !== "HEAD" ? { branch } : {}),
        localWorkspaceFolder: dir,
        ...withEnv,
      },
      project: origin,
      local: dir,
    };
  }
  process.stderr.write(`warren: uploading ${dir}\n`);
  const tar = spawn("tar", ["-c", "-C", dir, "."], { stdio: ["ignore", "pipe", "inherit"] });
  const up = await client.uploadDirectory(tar.stdout);
  process.stderr.write(`warren: uploaded ${(up.sizeBytes / 1048576).toFixed(1)} MiB\n`);
  let project: string | undefined;
  try {
    if (origin) project = normalizeProject(origin);
  } catch {
    project = undefined;
  }
  return {
    source: { uploadId: up.id, ...common, localWorkspaceFolder: dir, ...withEnv },
    ...(project ? { project } : {}),
    local: dir,
  };
}

/** devcontainer.json's initializeCommand runs on this machine: shown, asked, skipped without a TTY unless --yes. */
export async function runInitializeCommand(local: string | undefined, o: RepoOptions): Promise<void> {
  if (!local) return;
  const cfg = readLocalConfig(local, o.devcontainer);
  if (!cfg) return;
  const { config } = parseDevcontainer(cfg.text, cfg.file);
  const cmd = config.initializeCommand as LifecycleCommand | undefined;
  if (!cmd) return;
  const shown = typeof cmd === "string" ? cmd : JSON.stringify(cmd);
  process.stderr.write(
    `warren: ${cfg.file} has an initializeCommand that runs on this machine:\n  ${shown}\n`,
  );
  let yes = o.yes === true;
  if (!yes && process.stdin.isTTY && process.stderr.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    yes = /^y(es)?$/i.test((await rl.question("run it? [y/N] ")).trim());
    rl.close();
  }
  if (!yes) {
    process.stderr.write("warren: skipped initializeCommand (run with --yes to allow it)\n");
    return;
  }
  const runs: string[][] =
    typeof cmd === "string"
      ? [["/bin/sh", "-c", cmd]]
      : Array.isArray(cmd)
        ? [cmd]
        : Object.values(cmd).map((c) => (typeof c === "string" ? ["/bin/sh", "-c", c] : c));
  for (const argv of runs) {
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd: local, stdio: "inherit" });
    if (r.status !== 0)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `initializeCommand failed (exit ${r.status ?? r.signal}); nothing was created`,
      );
  }
}
