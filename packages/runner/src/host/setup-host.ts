// Host configuration, run as root by scripts/setup.sh (`node packages/runner/src/host/setup-host.ts`):
// reserves the environments' id range, makes Warren's directories, and checks the tools it
// needs. Prints one line per thing it did or found ok. Idempotent and fast, so setup.sh can run
// it every time. `hostPreflight()` runs the same checks without changing anything, for the
// daemon at startup.
import { constants } from "node:fs";
import { access, chmod, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { cgroupDriver, detectCgroupMode } from "../cgroups/detect.ts";
import { CgroupV1Driver } from "../cgroups/v1.ts";
import type { CgroupV2Driver } from "../cgroups/v2.ts";
import { defaultConfig, type RunnerConfig } from "./config.ts";
import {
  DEFAULT_SUBID_FILES,
  ensureWarrenRange,
  maxSlots,
  readWarrenRange,
  type SubidFiles,
} from "./idrange.ts";

/** Binaries the runner cannot work without, with the Debian package that ships each. */
export const REQUIRED_BINARIES: Record<string, string> = {
  runc: "runc",
  crun: "crun",
  mmdebstrap: "mmdebstrap",
  losetup: "mount",
  "mkfs.ext4": "e2fsprogs",
};

// Non-login root shells (systemd units, sudo) may lack the sbin directories.
const EXTRA_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export interface HostCheckOptions {
  config?: RunnerConfig;
  subidFiles?: SubidFiles;
  binaries?: Record<string, string>;
  /** PATH to search; defaults to $PATH plus the usual system directories. */
  searchPath?: string;
}

export async function findBinary(
  name: string,
  searchPath = process.env["PATH"] ?? "",
): Promise<string | null> {
  const dirs = [...searchPath.split(":").filter(Boolean), ...EXTRA_PATH];
  for (const dir of new Set(dirs)) {
    const file = path.join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

async function binaryLines(opts: HostCheckOptions): Promise<{ ok: string[]; problems: string[] }> {
  const ok: string[] = [];
  const problems: string[] = [];
  const results = await Promise.all(
    Object.entries(opts.binaries ?? REQUIRED_BINARIES).map(
      async ([bin, pkg]) => [bin, pkg, await findBinary(bin, opts.searchPath)] as const,
    ),
  );
  for (const [bin, pkg, found] of results) {
    if (found) ok.push(`ok: ${bin} at ${found}`);
    else
      problems.push(
        `missing: ${bin} is not installed; install it with apt-get install ${pkg} (scripts/setup.sh does)`,
      );
  }
  return { ok, problems };
}

function cgroupLine(): { ok?: string; problem?: string } {
  try {
    const mode = detectCgroupMode();
    const driver = cgroupDriver();
    const where =
      driver instanceof CgroupV1Driver
        ? `v1 ${Object.keys(driver.hierarchies).join(",")}` +
          (driver.unifiedRoot ? `; cgroup2 at ${driver.unifiedRoot} for PSI` : "; no PSI")
        : `cgroup2 at ${(driver as CgroupV2Driver).root}`;
    return { ok: `ok: cgroups ${mode} (${where})` };
  } catch (err) {
    return { problem: `cgroups: ${(err as Error).message}` };
  }
}

/** Problems that stop the runner from working on this host, as messages that say how to fix them. */
export async function hostPreflight(opts: HostCheckOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  try {
    await readWarrenRange(opts.subidFiles ?? DEFAULT_SUBID_FILES);
  } catch (err) {
    problems.push((err as Error).message);
  }
  problems.push(...(await binaryLines(opts)).problems);
  const cg = cgroupLine();
  if (cg.problem) problems.push(cg.problem);
  return problems;
}

/**
 * Makes `dir` with `want` mode, fixing the mode of an existing one. The state root is 0711, not
 * 0700: environments' root uids must traverse it to reach their rootfs, but cannot list it.
 */
async function ensurePrivateDir(dir: string, want: number): Promise<string> {
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  await mkdir(dir, { recursive: true, mode: want });
  const mode = (await stat(dir)).mode & 0o777;
  const w = want.toString(8).padStart(4, "0");
  if (mode !== want) {
    await chmod(dir, want);
    return `fixed: ${dir} mode ${mode.toString(8).padStart(4, "0")} -> ${w}`;
  }
  return existed ? `ok: ${dir} (${w})` : `created: ${dir} (${w})`;
}

/** Configures the host. Returns the problems left (empty when the host is ready). */
export async function setupHost(
  opts: HostCheckOptions = {},
  log: (line: string) => void = console.log,
): Promise<string[]> {
  const problems: string[] = [];
  const cfg = opts.config ?? defaultConfig();
  const files = opts.subidFiles ?? DEFAULT_SUBID_FILES;
  try {
    const { range, changed } = await ensureWarrenRange(files);
    const desc = `warren:${range.start}:${range.size} (${maxSlots(range)} environments)`;
    log(
      changed.length
        ? `reserved: ${desc} in ${changed.join(", ")}`
        : `ok: ${desc} in ${files.subuid}, ${files.subgid}`,
    );
  } catch (err) {
    problems.push((err as Error).message);
  }
  for (const [dir, mode] of [
    [cfg.root, 0o711],
    [cfg.runDir, 0o700],
  ] as const) {
    try {
      log(await ensurePrivateDir(dir, mode));
    } catch (err) {
      problems.push(`cannot create ${dir}: ${(err as Error).message}`);
    }
  }
  const bins = await binaryLines(opts);
  for (const line of bins.ok) log(line);
  problems.push(...bins.problems);
  const cg = cgroupLine();
  if (cg.ok) log(cg.ok);
  if (cg.problem) problems.push(cg.problem);
  return problems;
}

if (import.meta.main) {
  const problems = await setupHost();
  for (const p of problems) console.error(`problem: ${p}`);
  process.exitCode = problems.length ? 1 : 0;
}
