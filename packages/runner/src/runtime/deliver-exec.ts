// Runtime.deliverFiles for gVisor. runsc's tmpfs lives in the Sentry's memory (the sandbox's
// user-space kernel), so no host process can reach it, not through /proc/PID/root nor setns.
// The files are written by a process of the environment instead: `runsc exec` starts the
// image's /bin/sh inside the sandbox (all of the environment's namespaces, its cgroup, the
// Sentry's syscall table, the documented capabilities), which is how every `warren exec` runs.
// That is the one way image code may run: as a process of the environment, never on the host
// side. The value goes over stdin, never argv; a symlink on the way to the directory is
// refused; `set -C` (O_EXCL) never writes through a symlink; umask 377 makes the file 0400. A
// file with a `link` gets its symlink from a second exec, by warren-deliver's rules. Nothing of
// the user's has run yet: Warren's init runs nothing, and ensureRunning returns (which allows
// exec) only after the delivery.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_CAPABILITIES } from "../spec/capabilities.ts";
import { hostHardLimits } from "../spec/host-limits.ts";
import { clampRlimits, DEFAULT_RLIMITS } from "../spec/process.ts";
import { checkDeliveredFiles } from "./deliver-files.ts";
import { writeProcessFile } from "./process-file.ts";
import type { DeliveredFile, Runtime } from "./types.ts";

/**
 * Writes stdin to "$1/$2" as a new 0400 file: no component of "$1" may be a symlink, and the
 * file is never written through one (set -C is O_EXCL). Only shell builtins besides rm and cat.
 */
export const WRITE_FILE_SCRIPT = [
  'p=""; IFS=/; for c in $1; do [ -n "$c" ] || continue; p="$p/$c";',
  '[ -L "$p" ] && { echo "$p is a symlink: refused" >&2; exit 1; }; done; unset IFS;',
  'cd "$1" && rm -f -- "$2" && set -C && umask 377 && cat > "$2"',
].join(" ");

/**
 * Makes "$1" a symlink to "$2" as warren-deliver's --link does: missing parents become 0755
 * directories, a symlink or non-directory among them is refused, and so is anything already at
 * "$1" but this same symlink. Builtins besides mkdir and ln (coreutils, run inside the sandbox).
 */
export const LINK_FILE_SCRIPT = [
  'set -f; d=""; n=""; IFS=/; for c in $1; do [ -n "$c" ] || continue;',
  'if [ -n "$n" ]; then d="$d/$n";',
  'if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then',
  'echo "$d is a symlink or not a directory in the environment, so no secret can go to $1 (a link is never made through one): choose another path" >&2; exit 1;',
  'elif [ ! -e "$d" ]; then mkdir -m 755 -- "$d" || exit 1; fi; fi; n=$c; done; unset IFS;',
  'if [ -L "$1" ] && [ "$1" -ef "$2" ]; then exit 0; fi;',
  'if [ -L "$1" ] || [ -e "$1" ]; then',
  'echo "$1 already exists in the environment, and a secret never replaces it: remove it inside, or choose another path" >&2; exit 1; fi;',
  'ln -s -- "$2" "$1"',
].join(" ");

export async function deliverByExec(
  rt: Runtime,
  id: string,
  /** A root-only directory of the runner's for the process.json files. */
  tmpDir: string,
  dir: string,
  files: readonly DeliveredFile[],
): Promise<void> {
  const data = checkDeliveredFiles(dir, files);
  for (const [i, f] of files.entries()) {
    const target = path.posix.join(dir, f.name);
    await runInside(
      rt,
      id,
      tmpDir,
      ["/bin/sh", "-c", WRITE_FILE_SCRIPT, "sh", dir, f.name],
      data[i]!,
      target,
    );
    if (f.link) {
      await runInside(
        rt,
        id,
        tmpDir,
        ["/bin/sh", "-c", LINK_FILE_SCRIPT, "sh", f.link, target],
        null,
        f.link,
      );
    }
  }
}

/** One `runsc exec` of root's `args` inside the sandbox, `input` on its stdin. */
async function runInside(
  rt: Runtime,
  id: string,
  tmpDir: string,
  args: string[],
  input: Buffer | null,
  /** What it writes, for the error. */
  target: string,
): Promise<void> {
  const processFile = path.join(tmpDir, `deliver-${randomBytes(6).toString("hex")}.json`);
  await writeProcessFile(processFile, {
    args,
    env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    tty: false,
    capabilities: [...DEFAULT_CAPABILITIES],
    rlimits: clampRlimits(DEFAULT_RLIMITS, hostHardLimits()),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const child = rt.spawnExec(id, processFile);
      let err = "";
      child.stderr?.on("data", (d: Buffer) => {
        if (err.length < 4096) err += d.toString();
      });
      child.stdout?.resume();
      child.stdin?.on("error", () => undefined);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`writing ${target} inside exited ${code ?? signal}: ${err.trim()}`));
      });
      if (input) child.stdin?.end(input);
      else child.stdin?.end();
    });
  } finally {
    await rm(processFile, { force: true });
  }
}
