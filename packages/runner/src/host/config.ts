// Where a runner keeps things on its host. Tests give each run its own `root`, `runDir` and
// `prefix`, so they never touch a real installation's objects.
import path from "node:path";

export interface RunnerConfig {
  /** Persistent state: images, environment disks, handles. */
  root: string;
  /** Volatile state (tmpfs after reboot): runtime state dirs, sockets. */
  runDir: string;
  /** Prefix of every host object name (cgroups, container ids, loop files). */
  prefix: string;
  /** Bytes of free space kept back when admitting new disks. */
  diskReserveBytes: number;
  /**
   * Free disk below which the runner reports itself unschedulable ($WARREN_DISK_FLOOR, bytes);
   * default max(5 GiB, 5 % of the filesystem), see storage/admission.ts diskFloorBytes.
   */
  diskFloorBytes?: number;
  /**
   * Free disk below which the runner freezes the environment writing most ($WARREN_DISK_HARD_FLOOR,
   * bytes); default max(1 GiB, 1 %), never above diskFloorBytes (storage/disk-guard.ts).
   */
  diskHardFloorBytes?: number;
  /** Directory holding the native helpers (warren-init, warren-helper). */
  nativeDir: string;
  /** Debian mirror for the base image; undefined means the host's apt sources. */
  mirror?: string;
  /** Log size cap per environment, bytes ($WARREN_LOG_MAX_BYTES, default 8 MiB). */
  logMaxBytes: number;
  /** Rotated log files kept beside the live one ($WARREN_LOG_KEEP, default 2). */
  logKeep: number;
  /** Image store (shared layers). Tests point many roots at one cache. */
  imagesDir: string;
  /** Overrides the `warren` block from /etc/subuid (tests use a private block). */
  idRange?: { start: number; size: number };
  /**
   * Internal registry addresses pulls may reach anyway ("127.0.0.1,host:port,10.0.0.0/8");
   * default $WARREN_REGISTRY_ALLOW. See storage/registry/address-guard.ts.
   */
  registryAllow?: string;
  /**
   * Environment subnet; default $WARREN_SUBNET, else network/addr.ts's DEFAULT_SUBNET. Runners
   * sharing a host each need their own (host/claims.ts checks).
   */
  subnet?: string;
  /** The runner's fleet name (`--name`); default the hostname as a DNS label (runnerName()). */
  name?: string;
  /** Placement labels (`--label k=v`); classes may require them. */
  labels?: Record<string, string>;
  /** Registry hosts spoken to over plain HTTP besides loopback; default $WARREN_REGISTRY_INSECURE. */
  registryInsecure?: string;
  /** The CPU governor's knobs; unset ones come from $WARREN_GOVERNOR* (governor/settings.ts). */
  governor?: Partial<import("../governor/settings.ts").GovernorSettings>;
  /**
   * Per-environment /proc/meminfo, cpuinfo, stat, uptime... from the runner's own lxcfs
   * (host/lxcfs.ts); default on, `WARREN_PROC_VIEWS=off` turns it off.
   */
  procViews?: boolean;
}

function envRange(): { start: number; size: number } | undefined {
  const v = process.env["WARREN_ID_RANGE"];
  if (!v) return undefined;
  const [start, size] = v.split(":").map(Number);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size)) {
    throw new Error(`WARREN_ID_RANGE must be START:SIZE, got ${JSON.stringify(v)}`);
  }
  return { start: start!, size: size! };
}

/** A non-negative integer from the environment, or the fallback when unset. */
function envInt(name: string, fallback: number, min: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name} must be a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

const NATIVE_DIR = path.resolve(import.meta.dirname, "../../native/bin");

export function defaultConfig(overrides: Partial<RunnerConfig> = {}): RunnerConfig {
  const root = overrides.root ?? process.env["WARREN_ROOT"] ?? "/var/lib/warren";
  const idRange = envRange();
  return {
    root,
    imagesDir: process.env["WARREN_IMAGES"] ?? path.join(root, "images"),
    ...(idRange ? { idRange } : {}),
    runDir: process.env["WARREN_RUN"] ?? "/run/warren",
    prefix: process.env["WARREN_PREFIX"] ?? "warren",
    diskReserveBytes: 2 * 1024 ** 3,
    nativeDir: NATIVE_DIR,
    // Below 4 KiB a single burst of init output would rotate on every check.
    logMaxBytes: envInt("WARREN_LOG_MAX_BYTES", 8 * 1024 ** 2, 4096),
    logKeep: envInt("WARREN_LOG_KEEP", 2, 0),
    procViews: process.env["WARREN_PROC_VIEWS"] !== "off",
    ...(process.env["WARREN_DISK_FLOOR"] ? { diskFloorBytes: envInt("WARREN_DISK_FLOOR", 0, 0) } : {}),
    ...(process.env["WARREN_DISK_HARD_FLOOR"]
      ? { diskHardFloorBytes: envInt("WARREN_DISK_HARD_FLOOR", 0, 0) }
      : {}),
    ...overrides,
  };
}
