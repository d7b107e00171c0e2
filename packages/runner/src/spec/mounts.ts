// Filesystem mounts inside the container, and the /proc and /sys paths hidden from it.
import path from "node:path";
import type { OciMount, SpecOption } from "./types.ts";

/** runc's defaults: kernel interfaces that leak host information or allow host changes. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/**
 * The runc spec's standard mounts. sysfs can be mounted inside a user namespace only because
 * the container also owns its network namespace; devpts gid=5 (tty) must be inside the id map.
 */
export function defaultMounts(): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

/** Adds or replaces (by destination) mounts, keeping the order parents-before-children. */
function putMount(spec: { mounts: OciMount[] }, m: OciMount): void {
  const i = spec.mounts.findIndex((x) => x.destination === m.destination);
  if (i >= 0) spec.mounts[i] = m;
  else spec.mounts.push(m);
}

export function withDefaultMounts(): SpecOption {
  return (spec) => {
    for (const m of defaultMounts()) putMount(spec, m);
  };
}

export interface BindOptions {
  readonly?: boolean;
  /** rbind: also bind the mounts below src (default true). */
  recursive?: boolean;
  /** Extra mount options, e.g. nosuid, nodev, idmap. */
  extra?: string[];
}

export function withBindMount(src: string, dst: string, opts: BindOptions = {}): SpecOption {
  if (!src.startsWith("/") || !dst.startsWith("/"))
    throw new Error(`bind mount paths must be absolute: ${src} -> ${dst}`);
  return (spec) => {
    const options = [
      opts.recursive === false ? "bind" : "rbind",
      opts.readonly ? "ro" : "rw",
      ...(opts.extra ?? []),
    ];
    putMount(spec, { destination: dst, type: "bind", source: src, options });
  };
}

export interface TmpfsOptions {
  sizeBytes?: number;
  mode?: string;
  extra?: string[];
}

export function withTmpfs(dst: string, opts: TmpfsOptions = {}): SpecOption {
  return (spec) => {
    const options = ["nosuid", "nodev", `mode=${opts.mode ?? "1777"}`, ...(opts.extra ?? [])];
    if (opts.sizeBytes) options.push(`size=${Math.floor(opts.sizeBytes / 1024)}k`);
    putMount(spec, { destination: dst, type: "tmpfs", source: "tmpfs", options });
  };
}

export function withMaskedPaths(paths: readonly string[] = DEFAULT_MASKED_PATHS): SpecOption {
  return (spec) => {
    spec.linux.maskedPaths = [...paths];
  };
}

export function withReadonlyPaths(paths: readonly string[] = DEFAULT_READONLY_PATHS): SpecOption {
  return (spec) => {
    spec.linux.readonlyPaths = [...paths];
  };
}

/**
 * Files an lxcfs mount answers per reader's cgroup (host/lxcfs.ts), bound over the kernel's
 * host-wide ones. runc allows exactly these (and a few more) to be mounted under /proc.
 */
export const PROC_VIEW_FILES: readonly string[] = [
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/loadavg",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/sys/devices/system/cpu/online",
];

/** Binds each of PROC_VIEW_FILES from an lxcfs mount at `lxcfsDir`, read-only. */
export function withProcViews(lxcfsDir: string): SpecOption {
  return (spec) => {
    for (const file of PROC_VIEW_FILES) {
      putMount(spec, {
        destination: file,
        type: "bind",
        source: path.join(lxcfsDir, file),
        options: ["bind", "ro", "nosuid", "nodev", "noexec"],
      });
    }
  };
}

/** True for a mount withProcViews added (gVisor's Sentry has its own views and drops them). */
export function isProcViewMount(m: OciMount): boolean {
  return (
    m.type === "bind" && PROC_VIEW_FILES.includes(m.destination) && m.source?.endsWith(m.destination) === true
  );
}
