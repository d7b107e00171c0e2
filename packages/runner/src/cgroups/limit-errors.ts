// The one user-facing cgroup failure: asking for less memory than the environment is using.
// v1 refuses with EBUSY; v2 would reclaim and then OOM-kill, so the v2 driver refuses up front
// to behave the same.
import { formatSize, WarrenError } from "@warren/protocol";

export function memoryBelowUsage(
  requestedBytes: number,
  usageBytes: number,
  limitBytes: number,
): WarrenError {
  const limitText = limitBytes >= Number.MAX_SAFE_INTEGER ? "unlimited" : formatSize(limitBytes);
  return new WarrenError(
    "INVALID_ARGUMENT",
    `cannot lower the memory limit to ${formatSize(requestedBytes)}: the environment is using ` +
      `${formatSize(usageBytes)} and the host has no swap to move it to. Free memory inside the ` +
      `environment (or stop it) first, or choose a limit above ${formatSize(usageBytes)}. ` +
      `The limit stays at ${limitText}.`,
    { requestedBytes, usageBytes, limitBytes },
  );
}

/** Checks that a cgroup path is absolute and cannot climb out of a hierarchy root. */
export function checkCgroupPath(cgroupPath: string): void {
  if (!cgroupPath.startsWith("/") || cgroupPath.split("/").some((p) => p === ".." || p === ".")) {
    throw new Error(
      `invalid cgroup path ${JSON.stringify(cgroupPath)}: must be absolute, like /warren/warren-<id>`,
    );
  }
}
