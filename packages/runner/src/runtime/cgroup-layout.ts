// Which cgroup layout the host has, as the OCI runtimes see it. crun 1.8 refuses a "hybrid"
// host (v1 controllers plus a cgroup2 mount holding a controller), so its driver must know.
import { readFileSync } from "node:fs";

export type CgroupLayout = "v1" | "v2" | "hybrid";

/** Classifies from /proc/self/mountinfo text (fields: ... mountpoint ... - fstype ...). */
export function cgroupLayoutFromMountinfo(text: string): CgroupLayout {
  let v1 = false;
  let v2Root = false;
  let unified = false;
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (sep < 0) continue;
    const mountPoint = fields[4];
    const fsType = fields[sep + 1];
    if (fsType === "cgroup") v1 = true;
    if (fsType === "cgroup2" && mountPoint === "/sys/fs/cgroup") v2Root = true;
    if (fsType === "cgroup2" && mountPoint === "/sys/fs/cgroup/unified") unified = true;
  }
  if (v2Root && !v1) return "v2";
  return unified ? "hybrid" : "v1";
}

export function hostCgroupLayout(): CgroupLayout {
  return cgroupLayoutFromMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
}
