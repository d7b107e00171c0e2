// Filter: the hard reasons a runner cannot take a request. Each check returns a short phrase that
// reads after the runner's name ("r1 cordoned"), so the explanation is built from these directly.
import { formatSize } from "@warren/protocol";
import type { PlacementRequest, RunnerSnapshot } from "./types.ts";

/** CPU limits may sum to 4× the cores: idle environments leave most of their quota unused. */
export const DEFAULT_CPU_OVERCOMMIT = 4;
/** Memory is not overcommitted by default: memory cannot be throttled, only reclaimed or OOM-killed. */
export const DEFAULT_MEMORY_OVERCOMMIT = 1;
/** Memory overcommit is clamped to [1, 1.5]: beyond 1.5 a burst of real use outruns reclaim. */
export const MIN_MEMORY_OVERCOMMIT = 1;
export const MAX_MEMORY_OVERCOMMIT = 1.5;
/**
 * After a placement, at least max(1 GiB, 5 % of physical memory) must stay free of working set,
 * counting the new environment at its full limit (its real use is not known yet). The floor keeps
 * room for the runner, the kernel and page cache, whatever the overcommit ratio allows.
 */
export const FREE_MEMORY_FLOOR_MIN_BYTES = 1024 ** 3;
export const FREE_MEMORY_FLOOR_FRACTION = 0.05;
/** Fractional CPUs are summed in floating point; compare with a tolerance well below any real request. */
const CPU_EPSILON = 1e-9;

export function memoryRatio(requested: number): number {
  if (!Number.isFinite(requested)) return DEFAULT_MEMORY_OVERCOMMIT;
  return Math.min(MAX_MEMORY_OVERCOMMIT, Math.max(MIN_MEMORY_OVERCOMMIT, requested));
}

/** Disk sizes may sum to 4× the free disk: images are sparse and most of a --disk stays unwritten. */
export const DEFAULT_DISK_OVERCOMMIT = 4;

/** A class's disk ratio; one from before migration 034 (or not a number) is the default. */
export function diskRatio(requested: number | undefined): number {
  return requested !== undefined && Number.isFinite(requested) && requested >= 1
    ? requested
    : DEFAULT_DISK_OVERCOMMIT;
}

export function cpuRatio(requested: number): number {
  return Number.isFinite(requested) && requested > 0 ? requested : DEFAULT_CPU_OVERCOMMIT;
}

export function freeMemoryFloorBytes(physicalBytes: number): number {
  return Math.max(FREE_MEMORY_FLOOR_MIN_BYTES, Math.ceil(physicalBytes * FREE_MEMORY_FLOOR_FRACTION));
}

const ratioText = (r: number) => `${r}:1`;
const cores = (n: number) => String(Math.round(n * 100) / 100);

/** A runner's report is hostile input: a NaN or negative figure must never pass a comparison. */
function reportIsSane(r: RunnerSnapshot): boolean {
  const figures = [
    ...Object.values(r.capacity),
    ...Object.values(r.allocated),
    r.usage.cpuEwmaCores,
    r.usage.memoryWorkingSetBytes,
  ];
  return figures.every((n) => Number.isFinite(n) && n >= 0);
}

/** Why `runner` cannot take `req`, or undefined when it can. The first failing check wins. */
export function whyRejected(req: PlacementRequest, runner: RunnerSnapshot): string | undefined {
  if (!runner.connected) return "disconnected";
  if (runner.cordoned) return "cordoned";
  if (runner.unschedulable) return `unschedulable (${runner.unschedulable})`;
  if (runner.orgIds !== "shared" && !runner.orgIds.includes(req.orgId)) return "serves other organisations";
  if (!runner.runtimes.includes(req.runtime)) {
    return `lacks runtime ${req.runtime} (has ${runner.runtimes.join(", ") || "none"})`;
  }
  for (const [key, value] of Object.entries(req.requiredLabels)) {
    const has = runner.labels[key];
    if (has !== value) return `needs label ${key}=${value}${has === undefined ? "" : ` (has ${key}=${has})`}`;
  }
  if (!reportIsSane(runner)) return "reported capacity or usage that is not a non-negative number";
  const { capacity: cap, allocated: alloc } = runner;
  const need = req.resources;
  if (alloc.slots + 1 > cap.slots) return `no free slots (${alloc.slots} of ${cap.slots} in use)`;
  const diskR = diskRatio(req.overcommit.disk);
  const diskLimit = Math.floor(cap.diskBytes * diskR);
  if (alloc.diskBytes + need.diskBytes > diskLimit) {
    return `disk ${formatSize(alloc.diskBytes)} of ${formatSize(diskLimit)} allocated (${formatSize(cap.diskBytes)} free, ratio ${ratioText(diskR)}), needs ${formatSize(need.diskBytes)}`;
  }
  const cpuR = cpuRatio(req.overcommit.cpu);
  if (alloc.cpus + need.cpus > cap.cpus * cpuR + CPU_EPSILON) {
    return `cpu ${cores(alloc.cpus)} of ${cores(cap.cpus * cpuR)} allocated (ratio ${ratioText(cpuR)}), needs ${cores(need.cpus)}`;
  }
  const memR = memoryRatio(req.overcommit.memory);
  const memLimit = Math.floor(cap.memoryBytes * memR);
  if (alloc.memoryBytes + need.memoryBytes > memLimit) {
    return `memory ${formatSize(alloc.memoryBytes)} of ${formatSize(memLimit)} allocated (ratio ${ratioText(memR)}), needs ${formatSize(need.memoryBytes)}`;
  }
  const floor = freeMemoryFloorBytes(cap.memoryBytes);
  const freeAfter = cap.memoryBytes - runner.usage.memoryWorkingSetBytes - need.memoryBytes;
  if (freeAfter < floor) {
    return `working set ${formatSize(runner.usage.memoryWorkingSetBytes)} of ${formatSize(cap.memoryBytes)} would leave under the ${formatSize(floor)} free-memory floor`;
  }
  return undefined;
}
