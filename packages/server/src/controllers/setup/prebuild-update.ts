// The `update` step of an environment started from a prebuild's disk: inside it (as its user,
// with the same credential plumbing as the clone, git-plumbing.ts), fetch the branch and move the
// workspace to its latest commit. Then:
// - the configuration (devcontainer.json, Dockerfile) changed since the prebuild: configure,
//   build and restart as usual, and every create-time hook runs;
// - else the hooks go on, skipping onCreateCommand (the prebuild ran it) and updateContentCommand
//   too when the commit is the prebuild's.
import { type RunnerApi, WarrenError } from "@warren/protocol";
import type { SetupState } from "../../store/queries/setups.ts";
import { execRun } from "./exec-run.ts";
import { runInEnv } from "./git-exec.ts";
import { checkBranch, GIT_AUTH } from "./git-plumbing.ts";
import { configDigest } from "./prebuild-key.ts";
import type { StepLog } from "./step-log.ts";

/** $1 workspace, $2 branch ("" for the remote's HEAD); stdin: pinned known_hosts lines. */
export const FETCH_SCRIPT = `set -u
dir=$1 branch=$2
cd -- "$dir" || { echo "warren: $dir is not a git checkout" >&2; exit 3; }
${GIT_AUTH}git "$@" fetch --progress origin "\${branch:-HEAD}" || exit $?
git merge --ff-only -q FETCH_HEAD || { echo "warren: the prebuilt workspace cannot fast-forward to the latest commit" >&2; exit 4; }
`;

export interface UpdateContext {
  runner: RunnerApi;
  envId: string;
  user: string;
  log: StepLog;
}

/** Reads a file inside the environment; undefined when it does not exist. */
async function readInEnv(ctx: UpdateContext, file: string): Promise<string | undefined> {
  const r = await execRun(
    ctx.runner,
    ctx.envId,
    { cmd: ["/bin/sh", "-c", '[ -f "$1" ] || exit 3; exec cat -- "$1"', "sh", file], user: ctx.user },
    { keepStdout: 1024 * 1024 + 1, timeoutMs: 30_000 },
  );
  if (r.exitCode === 3) return undefined;
  if (r.exitCode !== 0 || r.truncated) throw new Error(`could not read ${file} (exit ${r.exitCode})`);
  return r.stdout.toString("utf8");
}

/** The digest of what the setup's image and hooks came from (prebuild-key.ts configDigest). */
export async function readConfigDigest(ctx: UpdateContext, s: SetupState): Promise<string> {
  const root = `/workspaces/${s.dir}`;
  const files: { path: string; text: string | undefined }[] = [];
  if (s.configFile) {
    files.push({ path: s.configFile, text: await readInEnv(ctx, `${root}/${s.configFile}`) });
    // A configuration that is gone is a change too, never "no configuration".
    if (files[0]?.text === undefined) files[0] = { path: s.configFile, text: "\0missing" };
  }
  const dockerfile = (s.build as { dockerfile?: { dockerfile?: string } } | undefined)?.dockerfile
    ?.dockerfile;
  if (dockerfile) files.push({ path: dockerfile, text: (await readInEnv(ctx, dockerfile)) ?? "\0missing" });
  return configDigest(files);
}

export async function headCommit(ctx: UpdateContext, dir: string): Promise<string> {
  const r = await execRun(
    ctx.runner,
    ctx.envId,
    { cmd: ["git", "-C", `/workspaces/${dir}`, "rev-parse", "HEAD"], user: ctx.user },
    { keepStdout: 256, timeoutMs: 30_000 },
  );
  const sha = r.stdout.toString("utf8").trim();
  if (r.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(sha))
    throw new WarrenError(
      "CLONE_FAILED",
      `/workspaces/${dir} has no commit checked out (git exit ${r.exitCode})`,
    );
  return sha;
}

/** What the update decided: the next state (pure, so every case is a table row). */
export function afterUpdate(s: SetupState, seen: { commit: string; configDigest: string }): SetupState {
  const from = s.fromPrebuild;
  if (!from || seen.configDigest !== from.configDigest) {
    // Configured again from the new commit; every create-time hook runs.
    const { skipHooks: _s, fromPrebuild: _f, created: _c, build: _b, ...rest } = s;
    return { ...rest, phase: "configure", hooks: [] };
  }
  const contentChanged = seen.commit !== from.commit;
  return {
    ...s,
    phase: "hooks",
    skipHooks: contentChanged ? ["onCreateCommand"] : ["onCreateCommand", "updateContentCommand"],
  };
}

export async function updateStep(ctx: UpdateContext, s: SetupState): Promise<SetupState> {
  const log = (line: string) => ctx.log("update", line);
  const branch = s.source.branch ? checkBranch(s.source.branch) : "";
  log(`fetching the latest commit${branch ? ` of ${branch}` : ""}`);
  const hosts = (s.source.knownHosts ?? []).map((l) => l.trim()).filter(Boolean);
  const r = await runInEnv(
    ctx.runner,
    ctx.envId,
    { cmd: ["sh", "-c", FETCH_SCRIPT, "warren-fetch", `/workspaces/${s.dir}`, branch], user: ctx.user },
    hosts.length ? `${hosts.join("\n")}\n` : "",
    log,
  );
  if (r.code !== 0) {
    throw new WarrenError(
      "CLONE_FAILED",
      `updating the prebuilt workspace failed (${r.tail.slice(-2).join(" | ") || `exit ${r.code}`}); check the repository's credentials, or make the prebuild again with \`warren prebuild --repo URL\``,
      { exitCode: r.code },
    );
  }
  const commit = await headCommit(ctx, s.dir);
  const digest = await readConfigDigest(ctx, s);
  const next = afterUpdate(s, { commit, configDigest: digest });
  if (next.phase === "configure")
    log("the devcontainer configuration changed since the prebuild: configuring again");
  else if (next.skipHooks?.includes("updateContentCommand"))
    log(`at the prebuilt commit ${commit.slice(0, 12)}`);
  else log(`updated to ${commit.slice(0, 12)} (prebuilt at ${s.fromPrebuild?.commit?.slice(0, 12) ?? "?"})`);
  return next;
}
