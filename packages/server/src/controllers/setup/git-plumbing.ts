// What a clone inside an environment runs, built as plain data so it can be checked without one:
// one POSIX sh script (the same for every clone) with the URL, branch and target as its
// arguments, never spliced into its text, and the pinned known_hosts lines on its stdin.
//
// Credentials (protocol user-git.ts names the secrets) stay on the environment's secrets tmpfs
// (/run/secrets, readable by its user only) and reach git only through files and pipes:
// - https: a get-only credential helper reads /run/secrets/git-credentials (git-credential-store
//   format, so each credential goes only to its host) and hands the match to git over a pipe.
//   Plain `store` would also try to write the file back after a successful clone.
// - ssh: GIT_SSH_COMMAND names the key file /run/secrets/git-ssh-key, and a known_hosts file made
//   on /dev/shm (a tmpfs, removed on exit) from the pinned keys plus /run/secrets/git-known-hosts.
//   Host keys are always checked (StrictHostKeyChecking=yes); BatchMode never prompts.
// So the process list (argv and environment) holds only paths, and nothing reaches a disk.
// git never prompts (GIT_TERMINAL_PROMPT=0) and speaks only https, http, ssh and git
// (GIT_ALLOW_PROTOCOL: no ext:: or file:: from a hostile .gitmodules or redirect).
import {
  checkGitUrl,
  GIT_CREDENTIALS_SECRET,
  GIT_KNOWN_HOSTS_SECRET,
  GIT_SSH_KEY_SECRET,
  SECRETS_DIR,
  WarrenError,
} from "@warren/protocol";

export const WORKSPACES = "/workspaces";
/** A folder name under /workspaces: one path component, no hidden or option-like names. */
const DIR_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const MAX_BRANCH = 255;

export function checkCloneDir(dir: string): string {
  if (!DIR_RE.test(dir) || dir.endsWith(".warren-partial")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid workspace folder ${JSON.stringify(dir.slice(0, 100))}: one name of 1-100 letters, digits, '.', '_' and '-', not starting with '.' or '-' (it becomes /workspaces/NAME)`,
      { field: "dir" },
    );
  }
  return dir;
}

/** A branch or tag name git accepts (git check-ref-format's rules), never option-like. */
export function checkBranch(branch: string): string {
  const bad =
    branch.length === 0 ||
    branch.length > MAX_BRANCH ||
    branch.startsWith("-") ||
    branch.startsWith("/") ||
    branch.endsWith("/") ||
    branch.endsWith(".") ||
    branch.endsWith(".lock") ||
    branch.includes("..") ||
    branch.includes("//") ||
    branch.includes("@{") ||
    branch === "@" ||
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(branch) ||
    branch.split("/").some((c) => c.startsWith("."));
  if (bad) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid branch ${JSON.stringify(branch.slice(0, 100))}: a git branch or tag name such as main or release/1.2 (no spaces, '..', '~', '^', ':', '?', '*', '[' or '\\', not starting with '-')`,
      { field: "branch" },
    );
  }
  return branch;
}

/** The folder a repository clones into by default: its last path segment without `.git`. */
export function repoDirName(url: string): string {
  const path = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/, "").replace(/^[^/:]*:/, "");
  const last = path.split("/").filter(Boolean).pop() ?? "";
  const name = last
    .replace(/\.git$/i, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[.-]+/, "");
  return DIR_RE.test(name) ? name : "repo";
}

const S = SECRETS_DIR;
/**
 * How every git command inside an environment authenticates (clone, dotfiles, a prebuild's fetch):
 * known hosts from stdin plus the git-known-hosts secret on a tmpfs, strict host keys, the
 * git-ssh-key secret, and a get-only credential helper on the git-credentials secret. Leaves git's
 * own options in "$@" for the caller's `git "$@" ...`.
 */
export const GIT_AUTH = `tmp=$(mktemp -d /dev/shm/warren-git.XXXXXX) || { echo "warren: no tmpfs at /dev/shm for the known hosts" >&2; exit 1; }
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/known_hosts"
if [ -r ${S}/${GIT_KNOWN_HOSTS_SECRET} ]; then cat ${S}/${GIT_KNOWN_HOSTS_SECRET} >> "$tmp/known_hosts"; fi
export GIT_TERMINAL_PROMPT=0 GIT_ASKPASS=/bin/false SSH_ASKPASS=/bin/false GIT_ALLOW_PROTOCOL=https:http:ssh:git
ssh="ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$tmp/known_hosts -o GlobalKnownHostsFile=/dev/null"
if [ -r ${S}/${GIT_SSH_KEY_SECRET} ]; then ssh="$ssh -o IdentitiesOnly=yes -i ${S}/${GIT_SSH_KEY_SECRET}"; fi
export GIT_SSH_COMMAND="$ssh" GIT_SSH_VARIANT=ssh
set -- -c credential.helper=
if [ -r ${S}/${GIT_CREDENTIALS_SECRET} ]; then
  set -- "$@" -c 'credential.helper=!f() { test "$1" = get && exec git credential-store --file=${S}/${GIT_CREDENTIALS_SECRET} get; }; f'
fi
`;

/** Written into .git when a clone finished, checkout included: what a retry keeps. */
export const CLONE_DONE_MARKER = "warren-clone-complete";

/**
 * $1 url, $2 branch ("" for the remote's HEAD), $3 target (absolute, or ~/NAME under $HOME);
 * stdin: pinned known_hosts lines. Keeps a clone that finished before (a retry after a crash);
 * otherwise empties what a crash left in the target and clones into it. The target's parent
 * need not be writable (under /workspaces, PREPARE_SCRIPT made the target for the user).
 */
export const CLONE_SCRIPT = `set -u
url=$1 branch=$2 dest=$3
case $dest in "~/"*) dest="$HOME/$(printf '%s' "$dest" | cut -c3-)" ;; esac
if ! command -v git >/dev/null 2>&1; then
  echo "warren: the image has no git; clone with an image that has it (the base image does)" >&2
  exit 127
fi
if [ -f "$dest/.git/${CLONE_DONE_MARKER}" ]; then
  echo "warren: $dest already holds a clone; keeping it" >&2
  exit 0
fi
empty() { find "$dest" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + ; }
if [ -d "$dest" ] && [ -n "$(ls -A -- "$dest")" ]; then
  echo "warren: $dest is not a complete clone; emptying it and cloning again" >&2
  empty || exit 1
fi
mkdir -p -- "$dest" || exit 1
${GIT_AUTH}set -- "$@" clone --progress
if [ -n "$branch" ]; then set -- "$@" --branch "$branch"; fi
git "$@" -- "$url" "$dest"
st=$?
if [ $st -ne 0 ]; then [ -d "$dest" ] && empty; exit $st; fi
: > "$dest/.git/${CLONE_DONE_MARKER}" || exit 1
echo "warren: cloned into $dest" >&2
`;

/**
 * Run as root inside: $1 uid:gid, $2 target. Makes the target folder (a link or file there is
 * removed first, and chown -h never follows one) and gives it to the user who clones.
 */
export const PREPARE_SCRIPT = `set -u
dest=$2
if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -d "$dest" ]; }; then rm -f -- "$dest" || exit 1; fi
mkdir -p -- "$dest" && chown -h -- "$1" "$dest"
`;

/** The root exec that makes /workspaces/DIR the cloning user's; `ids` is what `id -u; id -g` printed. */
export function prepareInvocation(dest: string, ids: string): string[] {
  const m = /^(\d{1,5})\n(\d{1,5})\n?$/.exec(ids);
  if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) {
    throw new WarrenError(
      "ENV_FAILED",
      `the environment's user has no usable uid and gid (id printed ${JSON.stringify(ids.slice(0, 40))})`,
    );
  }
  return ["sh", "-c", PREPARE_SCRIPT, "warren-prepare", `${m[1]}:${m[2]}`, dest];
}

export interface CloneInvocation {
  cmd: string[];
  stdin: string;
}

/** The exec for one clone; every value is checked first and none is ever part of the script. */
export function cloneInvocation(src: {
  url: string;
  branch?: string;
  dest: string;
  knownHosts?: string[];
}): CloneInvocation {
  const url = checkGitUrl(src.url);
  const branch = src.branch === undefined || src.branch === "" ? "" : checkBranch(src.branch);
  if (!/^(\/|~\/)[A-Za-z0-9._/-]+$/.test(src.dest) || src.dest.split("/").some((p) => p === "..")) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid clone target ${JSON.stringify(src.dest)}`);
  }
  const hosts = (src.knownHosts ?? []).map((l) => l.trim()).filter(Boolean);
  for (const h of hosts) {
    if (/[\u0000-\u001f\u007f]/.test(h) || h.length > 16_384 || !/^\S+\s+\S+\s+\S+/.test(h)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `invalid known host line ${JSON.stringify(h.slice(0, 60))}: give known_hosts lines (HOST KEYTYPE BASE64), as ssh-keyscan HOST prints them`,
        { field: "knownHosts" },
      );
    }
  }
  return {
    cmd: ["sh", "-c", CLONE_SCRIPT, "warren-clone", url, branch, src.dest],
    stdin: hosts.length > 0 ? `${hosts.join("\n")}\n` : "",
  };
}

/** A clone failure as the user reads it: what git said, and what to do about it. */
export function explainCloneFailure(url: string, code: number, tail: string[]): WarrenError {
  const said =
    tail
      .filter((l) => !l.startsWith("warren: "))
      .slice(-4)
      .join(" | ") || `exit status ${code}`;
  const text = tail.join("\n");
  const host = hostOf(url);
  let fix: string;
  if (
    /Host key verification failed|No \S+ host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text)
  ) {
    fix = `${host}'s SSH host key is not known: pin it at create time (knownHosts: a line from \`ssh-keyscan ${host}\` checked against the provider's published keys) or set a file secret ${GIT_KNOWN_HOSTS_SECRET}`;
  } else if (/Permission denied \(publickey/.test(text)) {
    fix = `${host} refused the SSH key: set your deploy or personal key as a file secret: warren secret set ${GIT_SSH_KEY_SECRET} --file --value-stdin < ~/.ssh/id_ed25519`;
  } else if (
    /could not read (Username|Password)|Authentication failed|terminal prompts disabled|401|403/.test(text)
  ) {
    fix = `${host} asked for credentials: set a file secret ${GIT_CREDENTIALS_SECRET} with a line https://USER:TOKEN@${host} (printf '...\\n' | warren secret set ${GIT_CREDENTIALS_SECRET} --file --value-stdin), and check that the token may read the repository`;
  } else if (/Remote branch .* not found|couldn't find remote ref/.test(text)) {
    fix = "the branch does not exist there: check --branch, or leave it out for the default branch";
  } else if (
    /Could not resolve host|Name or service not known|Temporary failure in name resolution/.test(text)
  ) {
    fix = `${host} did not resolve from inside the environment: check the name, and the environment class's egress policy`;
  } else if (
    /Connection refused|timed out|Network is unreachable|No route to host|unable to connect/i.test(text)
  ) {
    fix = `${host} could not be reached from inside the environment: check the URL, and that the class's egress policy lets it out`;
  } else if (/repository .* not found|does not appear to be a git repository|not found/i.test(text)) {
    fix =
      "check the URL; a private repository also needs credentials (the git-credentials or git-ssh-key secret)";
  } else if (code === 127) {
    fix = "use an image with git (the base image has it)";
  } else {
    fix = "see the clone's log (warren logs ENV) for git's full output";
  }
  return new WarrenError("CLONE_FAILED", `git clone ${redactedUrl(url)} failed (${said}): ${fix}`, {
    exitCode: code,
  });
}

function hostOf(url: string): string {
  const m =
    /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:]+|\[[^\]]+\])/.exec(url) ?? /^[^@]+@([^:]+):/.exec(url);
  return m?.[1] ?? "the server";
}

function redactedUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, "$1");
}
