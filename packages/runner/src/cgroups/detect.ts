// Finds how cgroups are mounted (from /proc/self/mountinfo, not by guessing directory names:
// distributions co-mount cpu,cpuacct and name hierarchies differently) and picks the driver.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { CgroupDriver } from "./types.ts";
import { CgroupV1Driver } from "./v1.ts";
import { CgroupV2Driver } from "./v2.ts";

export type CgroupMode = "v1" | "v2" | "hybrid";

export interface CgroupMounts {
  /** v1 hierarchy mount directory by controller (or name= hierarchy) name. */
  v1: Record<string, string>;
  /** Mount point of the cgroup2 filesystem, or null. */
  v2: string | null;
}

export interface DetectOptions {
  /** Where cgroup filesystems live; mounts elsewhere (e.g. inside containers) are ignored. */
  root?: string;
  /** Contents of /proc/self/mountinfo, for tests. */
  mountinfo?: string;
}

const V1_CONTROLLERS = new Set([
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "pids",
  "freezer",
  "devices",
  "blkio",
  "hugetlb",
  "net_cls",
  "net_prio",
  "perf_event",
  "rdma",
  "misc",
]);

// mountinfo escapes space, tab, newline and backslash as octal.
const unescapeMountinfo = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseCgroupMounts(mountinfo: string, root = "/sys/fs/cgroup"): CgroupMounts {
  const out: CgroupMounts = { v1: {}, v2: null };
  const under = (p: string) => p === root || p.startsWith(`${root}/`);
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mountPoint = unescapeMountinfo(pre.split(" ")[4] ?? "");
    const [fstype, , superOpts = ""] = post.split(" ");
    if (!under(mountPoint)) continue;
    if (fstype === "cgroup2") {
      // Prefer the mount at the root itself (pure v2) over a nested one.
      if (out.v2 === null || mountPoint === root) out.v2 = mountPoint;
    } else if (fstype === "cgroup") {
      for (const opt of superOpts.split(",")) {
        const name = opt.startsWith("name=") ? opt.slice(5) : V1_CONTROLLERS.has(opt) ? opt : null;
        if (name && !out.v1[name]) out.v1[name] = mountPoint;
      }
    }
  }
  return out;
}

function readMounts(opts: DetectOptions): CgroupMounts {
  const text = opts.mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8");
  return parseCgroupMounts(text, path.resolve(opts.root ?? "/sys/fs/cgroup"));
}

export function modeOf(mounts: CgroupMounts): CgroupMode | null {
  const hasV1 = Object.keys(mounts.v1).length > 0;
  if (hasV1) return mounts.v2 ? "hybrid" : "v1";
  return mounts.v2 ? "v2" : null;
}

export function detectCgroupMode(opts: DetectOptions = {}): CgroupMode {
  const mode = modeOf(readMounts(opts));
  if (!mode) throw noCgroups(opts.root);
  return mode;
}

export function cgroupDriver(opts: DetectOptions = {}): CgroupDriver {
  const mounts = readMounts(opts);
  const mode = modeOf(mounts);
  if (!mode) throw noCgroups(opts.root);
  if (mode === "v2") return new CgroupV2Driver({ root: mounts.v2! });
  if (!mounts.v1["memory"] || !mounts.v1["cpu"] || !mounts.v1["cpuacct"]) {
    throw new Error(
      `cgroup v1 needs the cpu, cpuacct and memory controllers mounted; found ${Object.keys(mounts.v1).join(", ")}`,
    );
  }
  return new CgroupV1Driver({ hierarchies: mounts.v1, unifiedRoot: mounts.v2 });
}

function noCgroups(root = "/sys/fs/cgroup"): Error {
  return new Error(
    `no cgroup filesystem is mounted under ${root}: mount cgroup2 there (mount -t cgroup2 none ${root}) or boot with systemd`,
  );
}
