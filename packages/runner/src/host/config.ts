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
  /** Directory holding the native helpers (warren-init, warren-helper). */
  nativeDir: string;
  /** Debian mirror for the base image; undefined means the host's apt sources. */
  mirror?: string;
  /** Log size cap per environment, bytes. */
  logMaxBytes: number;
  /** Image store (shared layers). Tests point many roots at one cache. */
  imagesDir: string;
  /** Overrides the `warren` block from /etc/subuid (tests use a private block). */
  idRange?: { start: number; size: number };
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
    logMaxBytes: 8 * 1024 ** 2,
    ...overrides,
  };
}
