// Which heartbeat reports are worth a write. A replica keeps each held runner's live report in
// memory (placement on this replica reads it there); the store gets only what placement on the
// other replicas would decide differently with: capacity, labels, runtimes, the runner's own
// "unschedulable", and usage that moved by more than a tenth of capacity. With 10,000 runners at a
// 15 s heartbeat a write per report would be ~670 writes a second for figures that barely move.
import type { RunnerInfo } from "@warren/protocol";

/** Usage must move by more than this share of capacity to be written. */
export const USAGE_WRITE_SHARE = 0.1;
/** Free disk must move by more than this share of the last written figure. */
export const DISK_WRITE_SHARE = 0.05;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** What changed that admission's capacity row must follow (store/queries/fleet-admission.ts). */
export function capacityChanged(prev: RunnerInfo, next: RunnerInfo): boolean {
  return (
    prev.cpus !== next.cpus ||
    prev.memoryBytes !== next.memoryBytes ||
    prev.idRange.size !== next.idRange.size ||
    Math.abs(prev.diskFreeBytes - next.diskFreeBytes) > prev.diskFreeBytes * DISK_WRITE_SHARE
  );
}

/** Whether `next` differs from the written `prev` in anything placement reads. */
export function reportMatters(prev: RunnerInfo, next: RunnerInfo): boolean {
  if (capacityChanged(prev, next)) return true;
  if (!same(prev.labels, next.labels) || prev.unschedulable !== next.unschedulable) return true;
  if (!same([...prev.runtimes].sort(), [...next.runtimes].sort()) || prev.hostname !== next.hostname)
    return true;
  const a = prev.usage;
  const b = next.usage;
  if (!a || !b) return a !== b;
  return (
    Math.abs(a.cpuEwmaCores - b.cpuEwmaCores) > next.cpus * USAGE_WRITE_SHARE ||
    Math.abs(a.memoryWorkingSetBytes - b.memoryWorkingSetBytes) > next.memoryBytes * USAGE_WRITE_SHARE
  );
}
