// `warren exec -u NAME[:GROUP]`: the uid, gid, home and supplementary groups of a name, from the
// environment's own /etc/passwd and /etc/group. A number needs no lookup (HOME=/ as before).
//
// Read by a process of the environment, run by the runtime's exec, and not by host code: gVisor
// keeps its root filesystem in its Sentry, out of any host process's reach, and users made inside
// (useradd) live there. The reader is sh with builtins only, as root without capabilities, inside
// the full sandbox; its argv carries the names, never a script built from them. What it prints is
// hostile: only ids within the environment's 65,536 and an absolute home are believed.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import { type ExecUserSpec, MAX_EXEC_ID, parseExecUser, WarrenError } from "@warren/protocol";
import { writeProcessFile } from "../runtime/process-file.ts";
import type { Runtime } from "../runtime/types.ts";
import { hostHardLimits } from "../spec/host-limits.ts";
import { clampRlimits, DEFAULT_RLIMITS } from "../spec/process.ts";

export interface ExecUser {
  /** Absent for a bare number: USER and LOGNAME are then left alone. */
  name?: string;
  uid: number;
  gid: number;
  home: string;
  groups: number[];
}

const LOOKUP_TIMEOUT_MS = 15_000;
const MAX_GROUPS = 64;

/** $1 user name or "", $2 group name or "". Prints what it found, one item a line. */
export const LOOKUP_SCRIPT = `
if [ -n "$1" ]; then
  while IFS=: read -r n _ u g _ h _ || [ -n "$n" ]; do
    if [ "$n" = "$1" ]; then echo "user $u $g $h"; break; fi
  done < /etc/passwd
fi
[ -r /etc/group ] || exit 0
while IFS=: read -r n _ g m || [ -n "$n" ]; do
  if [ -n "$2" ] && [ "$n" = "$2" ]; then echo "group $g"; fi
  if [ -n "$1" ]; then case ",$m," in *",$1,"*) echo "member $g" ;; esac; fi
done < /etc/group
exit 0
`;

export interface LookupResult {
  user?: { uid: number; gid: number; home: string };
  group?: number;
  member: number[];
}

const isId = (s: string | undefined): s is string =>
  s !== undefined && /^[0-9]{1,5}$/.test(s) && Number(s) <= MAX_EXEC_ID;

/** Strict: anything but the three line shapes, or an id out of range, is ignored. */
export function parseLookup(stdout: string): LookupResult {
  const out: LookupResult = { member: [] };
  for (const line of stdout.split("\n").slice(0, 4096)) {
    const [kind, a, b, ...rest] = line.split(" ");
    if (kind === "user" && out.user === undefined && isId(a) && isId(b)) {
      const home = rest.join(" ");
      out.user = {
        uid: Number(a),
        gid: Number(b),
        home: /^\/[^\0]{0,4095}$/.test(home) ? path.posix.normalize(home) : "/",
      };
    } else if (kind === "group" && out.group === undefined && isId(a) && b === undefined) {
      out.group = Number(a);
    } else if (kind === "member" && isId(a) && b === undefined && out.member.length < MAX_GROUPS) {
      if (!out.member.includes(Number(a))) out.member.push(Number(a));
    }
  }
  return out;
}

/** The user -u names, looked up inside when it names anything by name. */
export async function resolveExecUser(
  rt: Runtime,
  containerId: string,
  tmpDir: string,
  envName: string,
  spec: string,
): Promise<ExecUser> {
  const want: ExecUserSpec = parseExecUser(spec);
  const userName = "name" in want.user ? want.user.name : undefined;
  const groupName = want.group && "name" in want.group ? want.group.name : undefined;
  if (userName === undefined && groupName === undefined) {
    const uid = (want.user as { id: number }).id;
    const gid = want.group ? (want.group as { id: number }).id : uid;
    return { uid, gid, home: "/", groups: [] };
  }
  const found = parseLookup(await lookupInside(rt, containerId, tmpDir, [userName ?? "", groupName ?? ""]));
  if (userName !== undefined && !found.user) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `no user ${userName} in environment ${envName} (not in its /etc/passwd); create it there (useradd ${userName}), or give a number: -u UID[:GID]`,
      { field: "user" },
    );
  }
  if (groupName !== undefined && found.group === undefined) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `no group ${groupName} in environment ${envName} (not in its /etc/group); create it there, or give a number: -u USER:GID`,
      { field: "user" },
    );
  }
  const uid = found.user?.uid ?? (want.user as { id: number }).id;
  const gid =
    groupName !== undefined
      ? found.group!
      : want.group
        ? (want.group as { id: number }).id
        : (found.user?.gid ?? uid);
  const out: ExecUser = {
    uid,
    gid,
    home: found.user?.home ?? "/",
    groups: found.member.filter((g) => g !== gid),
  };
  if (userName !== undefined) out.name = userName;
  return out;
}

async function lookupInside(
  rt: Runtime,
  containerId: string,
  tmpDir: string,
  args: string[],
): Promise<string> {
  const file = path.join(tmpDir, `exec-user-${randomBytes(6).toString("hex")}.json`);
  await writeProcessFile(file, {
    args: ["/bin/sh", "-c", LOOKUP_SCRIPT, "sh", ...args],
    env: ["PATH=/usr/bin:/bin", "LANG=C"],
    cwd: "/",
    uid: 0,
    gid: 0,
    tty: false,
    capabilities: [],
    rlimits: clampRlimits(DEFAULT_RLIMITS, hostHardLimits()),
  });
  try {
    const { code, stdout, stderr } = await collect(rt, containerId, file);
    if (code !== 0) {
      const why = stderr.trim().split("\n").at(-1)?.slice(0, 200) ?? "";
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `cannot look up user names in this environment (its image needs /bin/sh${why ? `: ${why}` : ""}); give numbers instead: -u UID[:GID]`,
        { field: "user" },
      );
    }
    return stdout;
  } finally {
    await rm(file, { force: true });
  }
}

function collect(
  rt: Runtime,
  containerId: string,
  file: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = rt.spawnExec(containerId, file);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      if (stdout.length < 262_144) stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.stdin?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), LOOKUP_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
