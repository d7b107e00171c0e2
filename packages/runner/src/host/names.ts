// Deterministic names for everything an environment owns on the host, derived only from its
// id. A retry finds what exists instead of duplicating it, and a restart can sweep orphans by
// listing objects with the prefix.
import path from "node:path";
import type { RunnerConfig } from "./config.ts";

export interface HostNames {
  id: string;
  containerId: string;
  /** Cgroup path relative to each hierarchy root, e.g. /warren/warren-ab12. */
  cgroupPath: string;
  envDir: string;
  diskImage: string;
  diskMount: string;
  upperDir: string;
  workDir: string;
  workspaceDir: string;
  lowerDir: string; // parent of per-layer idmapped mounts lower/<n>
  rootfs: string;
  bundleDir: string;
  handleFile: string;
  logFile: string;
  netns: string;
}

export const ID_RE = /^[a-z0-9]{12}$/;

export function hostNames(cfg: RunnerConfig, id: string): HostNames {
  if (!ID_RE.test(id)) throw new Error(`invalid environment id ${JSON.stringify(id)}`);
  const envDir = path.join(cfg.root, "envs", id);
  const diskMount = path.join(envDir, "disk");
  return {
    id,
    containerId: `${cfg.prefix}-${id}`,
    cgroupPath: `/${cfg.prefix}/${cfg.prefix}-${id}`,
    envDir,
    diskImage: path.join(envDir, "disk.img"),
    diskMount,
    upperDir: path.join(diskMount, "upper"),
    workDir: path.join(diskMount, "work"),
    workspaceDir: path.join(diskMount, "workspaces"),
    lowerDir: path.join(envDir, "lower"),
    rootfs: path.join(envDir, "rootfs"),
    bundleDir: path.join(envDir, "bundle"),
    handleFile: path.join(envDir, "handle.json"),
    logFile: path.join(envDir, "console.log"),
    netns: `${cfg.prefix}-${id}`,
  };
}
