// What is mounted where, read from /proc/self/mountinfo (the runner's own mount namespace).
// Used to make mount steps idempotent and to unmount whole trees in a safe order.
import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";

export interface MountEntry {
  id: number;
  parentId: number;
  /** Path inside the source filesystem that is mounted (e.g. a bind mount's subdirectory). */
  root: string;
  mountPoint: string;
  options: string;
  fsType: string;
  source: string;
  superOptions: string;
}

// The kernel escapes space, tab, newline and backslash in paths as \ooo octal.
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses mountinfo text: `36 35 98:0 /root /mnt opts [optional...] - fstype source superopts`. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (f.length < 10 || sep < 0) throw new Error(`unparseable mountinfo line: ${JSON.stringify(line)}`);
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      root: unescapeOctal(f[3]!),
      mountPoint: unescapeOctal(f[4]!),
      options: f[5]!,
      fsType: unescapeOctal(f[sep + 1]!),
      source: unescapeOctal(f[sep + 2]!),
      superOptions: f[sep + 3] ?? "",
    });
  }
  return out;
}

export function readMounts(mountinfoText?: string): MountEntry[] {
  return parseMountinfo(mountinfoText ?? readFileSync("/proc/self/mountinfo", "utf8"));
}

// Mountinfo shows resolved paths, so compare against the resolved form when the path exists.
function canonical(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

export function isMountPoint(p: string, mounts: MountEntry[] = readMounts()): boolean {
  const target = canonical(p);
  return mounts.some((m) => m.mountPoint === target);
}

/**
 * Mount points at `dir` or below it, in an order safe for unmounting one by one: deepest
 * first, and of mounts stacked on the same path the most recent first.
 */
export function mountsUnder(dir: string, mounts: MountEntry[] = readMounts()): string[] {
  const base = canonical(dir);
  const prefix = base === "/" ? "/" : `${base}/`;
  const hits = mounts
    .map((m, order) => ({ m, order }))
    .filter(({ m }) => m.mountPoint === base || m.mountPoint.startsWith(prefix));
  hits.sort((a, b) => depth(b.m.mountPoint) - depth(a.m.mountPoint) || b.order - a.order);
  return hits.map(({ m }) => m.mountPoint);
}

function depth(p: string): number {
  return p === "/" ? 0 : p.split("/").length - 1;
}
