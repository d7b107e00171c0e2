// Runs the base image's build (mmdebstrap) as root of an unprivileged user namespace instead of as
// host root. mmdebstrap runs Debian's maintainer scripts in a chroot; even from the host's own
// apt-verified mirror, that code should hold no host privilege:
// - every process of the build has host uid/gid `idStart` (+ up to 65535): the ids of the image
//   unpacker's block, which no environment and no host user has (image-unpack-sandbox.ts);
// - its own user, mount, pid (with its own /proc), ipc and uts namespaces;
// - a mount namespace prepared by host root before the ids drop: /tmp is the build's scratch
//   directory (in the store's root-only tmp dir, so cleanupStale() finds it after a crash), and
//   the image store is covered by an empty tmpfs, so a script that left the chroot could not reach
//   the stored layers (they carry the same host ids). Mounts made before the user namespace are
//   locked in it: the build cannot uncover them;
// - the network stays the host's: apt inside downloads the packages.
// The uid map is written by this (root) process: /etc/subuid's `warren` block names no user that
// newuidmap would accept, and root may map any range for a child namespace. The child waits on a
// pipe until the map is in place, then execs, which gives it its capabilities in the namespace.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readlinkSync, writeFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { IDS_PER_ENV } from "../host/idrange.ts";

export interface NamespacedBuild {
  /** First host id of the namespace (maps 0..65535 inside). */
  idStart: number;
  /** Scratch directory, owned by idStart; seen as /tmp inside. */
  workDir: string;
  /** Covered by an empty tmpfs inside (the image store). */
  hide: string;
  /** The command and its arguments, run as root of the namespace with HOME=TMPDIR=/tmp. */
  argv: string[];
  env: NodeJS.ProcessEnv;
}

const MAP_TIMEOUT_MS = 5000;

// Runs in the user namespace, first without capabilities (its ids are not mapped yet): it waits
// for the go line on fd 3, and its exec then starts the command as root of the namespace.
const IN_NAMESPACE =
  'read -r go <&3 && [ "$go" = go ] || exit 97; exec 3<&-; cd /tmp; export HOME=/tmp TMPDIR=/tmp; exec "$@"';
// Runs as host root in a private mount namespace: host binaries and this script only.
const HOST_SETUP = `set -e
work=$1 hide=$2 id=$3; shift 3
mount --bind "$work" /tmp
# A store under /tmp (tests) is already out of sight behind the bind.
if [ -e "$hide" ]; then mount -t tmpfs -o size=64k,mode=0 warren-hidden "$hide"; fi
exec setpriv --reuid="$id" --regid="$id" --clear-groups -- unshare --user --mount --pid --fork \
  --mount-proc --ipc --uts --propagation=private --kill-child -- sh -c '${IN_NAMESPACE}' sh "$@"`;

export function spawnInUserNamespace(b: NamespacedBuild): ChildProcessByStdio<null, Readable, Readable> {
  const child = spawn(
    "unshare",
    [
      "--mount",
      "--propagation=private",
      "--",
      "sh",
      "-c",
      HOST_SETUP,
      "sh",
      b.workDir,
      b.hide,
      String(b.idStart),
      ...b.argv,
    ],
    {
      // Its own process group: on a kill, mmdebstrap's cleanup signals its whole group, which
      // must not include the runner.
      detached: true,
      env: b.env,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    },
  ) as unknown as ChildProcessByStdio<null, Readable, Readable>;
  const go = child.stdio[3] as Writable;
  go.on("error", () => {}); // a child that died first: its exit status says why
  void mapAndRelease(child.pid, b.idStart, go).catch((err: unknown) => {
    child.stderr.emit("data", Buffer.from(`warren: ${(err as Error).message}\n`));
    child.kill("SIGKILL");
  });
  return child;
}

/**
 * Waits until `pid` has its own user namespace (the same process throughout: unshare, sh,
 * setpriv and unshare again each exec in place), then maps its ids and lets it go on.
 */
async function mapAndRelease(pid: number | undefined, idStart: number, go: Writable): Promise<void> {
  if (pid === undefined) return; // spawn failed: its 'error' event reports it
  const own = readlinkSync("/proc/self/ns/user");
  const deadline = Date.now() + MAP_TIMEOUT_MS;
  for (;;) {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      return; // it exited before unsharing: its exit status says why
    }
    if (ns !== own) break;
    if (Date.now() > deadline) throw new Error("the build's user namespace did not appear within 5 s");
    await new Promise((r) => setTimeout(r, 2));
  }
  const map = `0 ${idStart} ${IDS_PER_ENV}\n`;
  writeFileSync(`/proc/${pid}/uid_map`, map);
  writeFileSync(`/proc/${pid}/gid_map`, map);
  go.end("go\n");
}
