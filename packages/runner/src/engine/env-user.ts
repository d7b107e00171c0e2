// The environment's configured user (`warren up --user NAME`, RunnerEnvSpec.user): right after
// start (and after the secrets are in), a process of the environment looks the user up in the
// image's /etc/passwd, creates it when the image lacks it, and hands it the workspace folder and
// the secrets. exec then defaults to that user's uid, gid and home (env-spec.ts execProcess).
//
// Why a process of the environment, run by the runtime's exec, and not host code: it is the one
// way that works for every runtime (gVisor's tmpfs and rootfs live in its Sentry, out of any host
// process's reach), and creating a user is the image's business: its own useradd (or busybox
// adduser) keeps passwd, group, shadow and home the way that image expects. It runs inside the
// full sandbox (namespaces, cgroup, seccomp, capability bounds), like every `warren exec`, so a
// hostile image gains nothing; what it prints is parsed strictly (uid and gid within the
// environment's 65,536 ids, an absolute home) and nothing else is believed. An image without sh,
// or without the user and any tool to create it, is refused with a message saying so.
import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  checkEnvUser,
  DEFAULT_ENV_USER,
  type RunnerEnvSpec,
  SECRETS_DIR,
  WarrenError,
} from "@warren/protocol";
import { writeProcessFile } from "../runtime/process-file.ts";
import type { Runtime } from "../runtime/types.ts";
import { DEFAULT_CAPABILITIES } from "../spec/capabilities.ts";
import { WORKSPACES_DIR } from "../spec/defaults.ts";
import { hostHardLimits } from "../spec/host-limits.ts";
import { clampRlimits, DEFAULT_RLIMITS } from "../spec/process.ts";

export interface EnvUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Supplementary groups, from the image's /etc/group (sudo, docker...). */
  groups: number[];
}

/** In the environment's host directory: the user as set up at this start (exec reads it). */
const USER_FILE = "env-user.json";
const SETUP_TIMEOUT_MS = 60_000;
/** The script's status for "the user is missing and cannot be made here". */
const NO_USER = 3;
const MAX_GROUPS = 64;

/** The configured user, or undefined for root (which needs no setup). */
export function configuredUser(spec: Pick<RunnerEnvSpec, "user">): string | undefined {
  return spec.user && spec.user !== DEFAULT_ENV_USER ? spec.user : undefined;
}

/**
 * Run as root inside with $1 = user, $2 = workspace folder, $3 = secrets directory. Looks the
 * user up with shell builtins only; creates it with the image's useradd (first free uid from
 * 1000, a group of its own, /home/NAME, bash when the image has it) or busybox's adduser; then
 * chowns the workspace folder (not its contents: they may be anyone's) and each entry of the
 * secrets tmpfs (-h: a link is changed, never followed), and lets the user's group into the
 * directory (0750, from the spec). It prints the user's supplementary groups, then, last, the user.
 */
export const SETUP_USER_SCRIPT = `
lookup() {
  [ -r /etc/passwd ] || return 1
  while IFS=: read -r n _ u g _ h _ || [ -n "$n" ]; do
    if [ "$n" = "$1" ]; then U=$u G=$g H=$h; return 0; fi
  done < /etc/passwd
  return 1
}
if ! lookup "$1"; then
  sh=/bin/sh; [ -x /bin/bash ] && sh=/bin/bash
  if command -v useradd >/dev/null 2>&1; then
    useradd --create-home --shell "$sh" "$1" >&2 || exit ${NO_USER}
  elif command -v adduser >/dev/null 2>&1; then
    adduser -D -s "$sh" "$1" >&2 || exit ${NO_USER}
  else
    echo "the image has neither useradd nor adduser" >&2; exit ${NO_USER}
  fi
  lookup "$1" || { echo "useradd did not add it to /etc/passwd" >&2; exit ${NO_USER}; }
fi
chown "$U:$G" "$2" || exit 1
if [ -d "$3" ]; then
  chgrp "$G" "$3" || exit 1
  for f in "$3"/* "$3"/.[!.]*; do
    if [ -e "$f" ] || [ -L "$f" ]; then chown -h "$U:$G" "$f" || exit 1; fi
  done
fi
if [ -r /etc/group ]; then
  while IFS=: read -r n _ g m || [ -n "$n" ]; do
    case ",$m," in *",$1,"*) echo "warren-group $g" ;; esac
  done < /etc/group
fi
echo "warren-user $U $G $H"
`;

/** The script's output, believed only within the environment's ids and as an absolute path. */
export function parseSetupOutput(name: string, stdout: string): EnvUser {
  const lines = stdout.trimEnd().split("\n");
  const last = lines.at(-1) ?? "";
  const m = /^warren-user (\d{1,5}) (\d{1,5}) (\/[^\0\n]{0,4095})$/.exec(last);
  const uid = Number(m?.[1]);
  const gid = Number(m?.[2]);
  if (!m || uid > 65535 || gid > 65535) {
    throw new Error(`setting up user ${name} printed ${JSON.stringify(last.slice(0, 200))}`);
  }
  const groups: number[] = [];
  for (const line of lines.slice(0, -1)) {
    const g = /^warren-group (\d{1,5})$/.exec(line);
    const id = Number(g?.[1]);
    if (g && id <= 65535 && id !== gid && !groups.includes(id) && groups.length < MAX_GROUPS) groups.push(id);
  }
  return { name, uid, gid, home: path.posix.normalize(m[3]!), groups };
}

/** Why a setup failed, as the user should read it: terminal, since a retry fails the same way. */
export function userSetupFailure(spec: RunnerEnvSpec, status: number | null, stderr: string): WarrenError {
  const user = spec.user ?? DEFAULT_ENV_USER;
  const why = stderr.trim().split("\n").slice(-3).join("; ").slice(0, 500);
  if (status === NO_USER) {
    return new WarrenError(
      "INVALID_ARGUMENT",
      `user ${user} does not exist in image ${spec.image} and could not be created${why ? ` (${why})` : ""}; create it in the image, or pick another --user`,
      { field: "user" },
    );
  }
  return new WarrenError(
    "INVALID_ARGUMENT",
    `user ${user} could not be set up in image ${spec.image}${why ? `: ${why}` : ""}; the image needs /bin/sh and chown, or run as root (no --user)`,
    { field: "user" },
  );
}

/** Runs the setup inside (see the top of the file) and records the result for exec. */
export async function setupEnvUser(
  rt: Runtime,
  containerId: string,
  envDir: string,
  spec: RunnerEnvSpec,
): Promise<EnvUser | undefined> {
  const name = configuredUser(spec);
  if (!name) return undefined;
  // The wire checks this already; the script's argument must never be anything else.
  checkEnvUser(name);
  const processFile = path.join(envDir, `user-${randomBytes(6).toString("hex")}.json`);
  await writeProcessFile(processFile, {
    args: ["/bin/sh", "-c", SETUP_USER_SCRIPT, "sh", name, `${WORKSPACES_DIR}/${spec.name}`, SECRETS_DIR],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"],
    cwd: "/",
    uid: 0,
    gid: 0,
    tty: false,
    capabilities: [...DEFAULT_CAPABILITIES],
    rlimits: clampRlimits(DEFAULT_RLIMITS, hostHardLimits()),
  });
  try {
    const { status, stdout, stderr } = await runInside(rt, containerId, processFile);
    if (status !== 0) throw userSetupFailure(spec, status, stderr);
    const user = parseSetupOutput(name, stdout);
    await writeFile(path.join(envDir, USER_FILE), JSON.stringify(user), { mode: 0o600 });
    return user;
  } finally {
    await rm(processFile, { force: true });
  }
}

function runInside(
  rt: Runtime,
  containerId: string,
  processFile: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = rt.spawnExec(containerId, processFile);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      if (stdout.length < 16_384) stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 16_384) stderr += d.toString();
    });
    child.stdin?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), SETUP_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

/** Before a start: the user recorded by an earlier run must not vouch for this one. */
export async function forgetEnvUser(envDir: string): Promise<void> {
  await rm(path.join(envDir, USER_FILE), { force: true });
}

/** The user set up at this start, if it is the one the spec names (undefined: none yet). */
export async function readEnvUser(envDir: string, spec: RunnerEnvSpec): Promise<EnvUser | undefined> {
  const name = configuredUser(spec);
  if (!name) return undefined;
  const text = await readFile(path.join(envDir, USER_FILE), "utf8").catch(() => null);
  if (text === null) return undefined;
  const u = JSON.parse(text) as EnvUser;
  return u.name === name ? u : undefined;
}
