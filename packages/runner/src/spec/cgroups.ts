// Where the runtime puts the container's cgroups and which limits it writes there.
import type { SpecOption } from "./types.ts";

/**
 * Always absolute (e.g. /warren/warren-ab12): a relative path would be placed under the
 * runtime's own cgroup, which differs between a daemon run and a test run.
 */
export function withCgroupsPath(cgroupsPath: string): SpecOption {
  if (!cgroupsPath.startsWith("/")) throw new Error(`cgroupsPath must be absolute: ${cgroupsPath}`);
  return (spec) => {
    spec.linux.cgroupsPath = cgroupsPath;
  };
}

/** linux.resources as produced by the cgroup driver's ociResources(). */
export function withResources(resources: Record<string, unknown>): SpecOption {
  return (spec) => {
    spec.linux.resources = structuredClone(resources);
  };
}

/**
 * linux.resources.blockIO (throttle rules per device), beside what withResources set: runc and
 * crun write them as v1 blkio.throttle.* or v2 io.max when they create the container's groups.
 */
export function withBlockIo(blockIO: Record<string, unknown> | undefined): SpecOption {
  return (spec) => {
    if (!blockIO) return;
    spec.linux.resources = { ...(spec.linux.resources ?? {}), blockIO: structuredClone(blockIO) };
  };
}
