// Runtime.deliverFiles for runtimes whose containers are host processes (runc, crun): host code
// and the static helper native/bin/warren-deliver, which joins every namespace and cgroup of the
// container's init and writes the files with openat2, so no binary of the image ever runs (see
// the comment at the top of warren-deliver.c for why nsenter + the image's sh was wrong).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseCgroupMounts } from "../cgroups/detect.ts";
import { run } from "../host/run.ts";
import type { DeliveredFile } from "./types.ts";

export const DELIVER_HELPER = "warren-deliver";
/** The helper refuses more; the secrets tmpfs holds 8 MiB in all. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Rejects names the helper would refuse, with a message that says what is wrong. */
export function checkDeliveredFiles(dir: string, files: readonly DeliveredFile[]): Buffer[] {
  if (!path.posix.isAbsolute(dir) || path.posix.normalize(dir) !== dir) {
    throw new Error(`deliver files: ${JSON.stringify(dir)} is not a normalized absolute path`);
  }
  return files.map((f) => {
    if (!f.name || f.name.includes("/") || f.name === "." || f.name === ".." || f.name.includes("\0")) {
      throw new Error(`deliver files: ${JSON.stringify(f.name)} is not a plain file name inside ${dir}`);
    }
    if (f.link !== undefined) checkLink(dir, f.name, f.link);
    const bytes = Buffer.from(f.data);
    if (bytes.length > MAX_FILE_BYTES) {
      throw new Error(`deliver files: ${f.name} is ${bytes.length} bytes; at most ${MAX_FILE_BYTES} fit`);
    }
    return bytes;
  });
}

/** A symlink's path: absolute, normalized, outside `dir` and outside the kernel's interfaces. */
function checkLink(dir: string, name: string, link: string): void {
  const ok =
    !name.includes("=") && // the helper's --link NAME=PATH
    path.posix.isAbsolute(link) &&
    path.posix.normalize(link) === link &&
    link !== "/" &&
    !link.endsWith("/") &&
    !link.includes("\0") &&
    link.length <= 4095 &&
    !`${link}/`.startsWith(`${dir}/`) &&
    !["/proc", "/sys", "/dev"].some((k) => `${link}/`.startsWith(`${k}/`));
  if (!ok) throw new Error(`deliver files: cannot link ${JSON.stringify(link)} to a file in ${dir}`);
}

/**
 * The host directories of every cgroup `pid` is in (v1 hierarchies and the cgroup2 group), from
 * /proc/PID/cgroup read in the host's cgroup namespace.
 */
export async function cgroupDirsOf(pid: number): Promise<string[]> {
  const mounts = parseCgroupMounts(await readFile("/proc/self/mountinfo", "utf8"), "/sys/fs/cgroup");
  const dirs = new Set<string>();
  for (const line of (await readFile(`/proc/${pid}/cgroup`, "utf8")).split("\n")) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const [, controllers, rel] = m as unknown as [string, string, string];
    const first = controllers.split(",")[0]!;
    const mount = controllers === "" ? mounts.v2 : mounts.v1[first.replace(/^name=/, "")];
    // A group at the root is the host's own: joining it would join nothing of the environment.
    if (mount && rel !== "/") dirs.add(path.join(mount, rel));
  }
  return [...dirs];
}

export async function deliverWithHelper(
  helper: string,
  pid: number,
  dir: string,
  files: readonly DeliveredFile[],
): Promise<void> {
  const data = checkDeliveredFiles(dir, files);
  if (!files.length) return;
  const cgroups = await cgroupDirsOf(pid);
  if (!cgroups.length) throw new Error(`deliver files: pid ${pid} is in no cgroup of its own`);
  await run(
    helper,
    [
      "--pid",
      String(pid),
      "--dir",
      dir,
      ...cgroups.flatMap((c) => ["--cgroup", c]),
      ...files.flatMap((f) => (f.link ? ["--link", `${f.name}=${f.link}`] : [])),
      "--",
      ...files.map((f, i) => `${f.name}:${data[i]!.length}`),
    ],
    { input: Buffer.concat(data), env: {}, timeoutMs: 30_000 },
  );
}
