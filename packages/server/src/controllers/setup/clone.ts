// The git steps of an environment made from a repository, run INSIDE the environment through the
// runner's exec (as its user, in its namespaces, cgroup and egress policy), never on the host:
// - cloneRepo: the repository into /workspaces/DIR, with the credentials the environment's
//   secrets hold (git-plumbing.ts says how they stay off argv, logs and disks);
// - runDotfiles: the owner's git identity and dotfiles, after the lifecycle hooks, as Codespaces
//   does: git config --global user.name/email, ~/dotfiles cloned, its install script run.
// Both are safe to repeat: a complete clone is kept, a half one is removed and redone.
import { checkGitEmail, checkGitName, type RunnerExec, type UserGit, WarrenError } from "@warren/protocol";
import { runInEnv } from "./git-exec.ts";
import {
  checkCloneDir,
  cloneInvocation,
  explainCloneFailure,
  prepareInvocation,
  WORKSPACES,
} from "./git-plumbing.ts";

export { checkBranch, checkCloneDir, repoDirName } from "./git-plumbing.ts";

export interface CloneTarget {
  id: string;
  /** Who clones and owns the files: the environment's user (default: its configured one). */
  user?: string;
}

export interface CloneSource {
  url: string;
  branch?: string;
  /** Folder name under /workspaces. */
  dir: string;
  /** Pinned SSH host keys (known_hosts lines), checked strictly, with the git-known-hosts secret. */
  knownHosts?: string[];
}

export interface GitStepOptions {
  /** Cancels the step (the process is killed); the next attempt starts over cleanly. */
  signal?: AbortSignal;
}

const as = (user: string | undefined) => (user ? { user } : {});

async function cloneInto(
  runner: RunnerExec,
  env: CloneTarget,
  src: { url: string; branch?: string; dest: string; knownHosts?: string[] },
  cwd: string | undefined,
  log: (line: string) => void,
  opts: GitStepOptions,
): Promise<void> {
  const inv = cloneInvocation(src);
  const r = await runInEnv(
    runner,
    env.id,
    { cmd: inv.cmd, ...as(env.user), ...(cwd ? { cwd } : {}) },
    inv.stdin,
    log,
    opts.signal,
  );
  if (r.code !== 0) throw explainCloneFailure(src.url, r.code, r.tail);
}

/** Clones `src.url` into /workspaces/DIR inside environment `env.id`; git's progress goes to `log`. */
export async function cloneRepo(
  runner: RunnerExec,
  env: CloneTarget,
  src: CloneSource,
  log: (line: string) => void,
  opts: GitStepOptions = {},
): Promise<void> {
  const dir = checkCloneDir(src.dir);
  const dest = `${WORKSPACES}/${dir}`;
  // /workspaces is root's; the folder the clone lands in becomes the cloning user's first.
  const ids = await runInEnv(
    runner,
    env.id,
    { cmd: ["sh", "-c", "id -u; id -g"], ...as(env.user) },
    "",
    () => {},
  );
  if (ids.code !== 0)
    throw new WarrenError("ENV_FAILED", `id failed in the environment: ${ids.tail.join(" | ")}`);
  const prep = await runInEnv(
    runner,
    env.id,
    { cmd: prepareInvocation(dest, `${ids.tail.join("\n")}\n`), user: "0:0" },
    "",
    log,
    opts.signal,
  );
  if (prep.code !== 0) {
    throw new WarrenError("ENV_FAILED", `could not make ${dest} for the clone: ${prep.tail.join(" | ")}`);
  }
  await cloneInto(
    runner,
    env,
    { url: src.url, branch: src.branch, dest, knownHosts: src.knownHosts },
    WORKSPACES,
    log,
    opts,
  );
}

/**
 * Runs the first install script found, as Codespaces looks for them; without one, links the
 * repository's top-level dotfiles into $HOME. Runs as the user, in ~/dotfiles.
 */
export const DOTFILES_INSTALL_SCRIPT = `set -u
cd "$HOME/dotfiles" || exit 1
for f in install.sh install bootstrap.sh bootstrap script/bootstrap setup.sh setup script/setup; do
  if [ -f "$f" ]; then
    echo "warren: running ~/dotfiles/$f" >&2
    if [ -x "$f" ]; then exec "./$f"; else exec /bin/sh "./$f"; fi
  fi
done
echo "warren: no install script in ~/dotfiles; linking its dotfiles into $HOME" >&2
for f in .[!.]* ..?*; do
  [ -e "$f" ] || continue
  [ "$f" = .git ] && continue
  ln -sfn "$HOME/dotfiles/$f" "$HOME/$f"
done
`;

/**
 * Applies a user's developer identity in environment `env.id`, as `opts.user` (the remoteUser):
 * git name and email, then the dotfiles. A failing install script rejects with ENV_FAILED naming
 * its exit status; the setup controller records it as the "dotfiles" hook.
 */
export async function runDotfiles(
  runner: RunnerExec,
  env: CloneTarget,
  identity: Pick<UserGit, "gitName" | "gitEmail" | "dotfiles">,
  opts: { user?: string } & GitStepOptions,
  log: (line: string) => void,
): Promise<void> {
  const user = as(opts.user ?? env.user);
  const config: [string, string | undefined, (s: string) => string][] = [
    ["user.name", identity.gitName, checkGitName],
    ["user.email", identity.gitEmail, checkGitEmail],
  ];
  for (const [key, value, check] of config) {
    if (value === undefined) continue;
    const r = await runInEnv(
      runner,
      env.id,
      { cmd: ["git", "config", "--global", key, check(value)], ...user },
      "",
      log,
      opts.signal,
    );
    if (r.code !== 0) {
      throw new WarrenError(
        "ENV_FAILED",
        `git config --global ${key} failed (exit ${r.code}): ${r.tail.slice(-2).join(" | ")}`,
      );
    }
    log(`warren: git ${key} set`);
  }
  if (!identity.dotfiles) return;
  await cloneInto(
    runner,
    { id: env.id, ...user },
    { url: identity.dotfiles, dest: "~/dotfiles" },
    undefined,
    log,
    opts,
  );
  const r = await runInEnv(
    runner,
    env.id,
    { cmd: ["sh", "-c", DOTFILES_INSTALL_SCRIPT], ...user },
    "",
    log,
    opts.signal,
  );
  if (r.code !== 0) {
    throw new WarrenError(
      "ENV_FAILED",
      `dotfiles install failed: exit ${r.code} (${r.tail.slice(-2).join(" | ")}); fix the script in ${identity.dotfiles}, or clear it with \`warren user set --dotfiles ""\``,
      { exitCode: r.code },
    );
  }
}
