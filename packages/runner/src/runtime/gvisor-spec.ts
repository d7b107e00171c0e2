// How an environment's OCI spec changes for gVisor. The engine writes one spec for every
// runtime; the gvisor driver rewrites its own copy at create, so the engine needs no branch.
import { WarrenError } from "@warren/protocol";
import type { CgroupLimits } from "../cgroups/types.ts";
import { isProcViewMount } from "../spec/mounts.ts";
import type { OciSpec } from "../spec/types.ts";

export interface GvisorPlan {
  /** The spec runsc gets: no user namespace (warren-runsc makes it), no netns path. */
  spec: OciSpec;
  /** The environment's id map, made by warren-runsc around runsc. */
  idmap: { hostStart: number; size: number };
  /** Network namespace for warren-runsc to enter; undefined lets runsc make a fresh one. */
  netns?: string;
  cgroupsPath?: string;
  limits?: CgroupLimits;
}

/** linux.resources (as ociResources() writes them) back to the cgroup driver's limits. */
export function limitsFromResources(res: Record<string, unknown> | undefined): CgroupLimits | undefined {
  if (!res) return undefined;
  const cpu = res["cpu"] as { quota?: number; period?: number } | undefined;
  const memory = res["memory"] as { limit?: number } | undefined;
  const pids = res["pids"] as { limit?: number } | undefined;
  if (!memory?.limit) return undefined; // setLimits needs a memory limit; no limits at all is fine
  const cpus = cpu?.quota && cpu.quota > 0 && cpu.period ? cpu.quota / cpu.period : 1024;
  return { cpus, memoryBytes: memory.limit, pids: pids?.limit && pids.limit > 0 ? pids.limit : 0 };
}

export function planGvisor(input: OciSpec): GvisorPlan {
  const spec = structuredClone(input);
  const uid = spec.linux.uidMappings ?? [];
  const gid = spec.linux.gidMappings ?? [];
  const m = uid[0];
  // warren-runsc makes exactly one contiguous map, the same for uids and gids (as Warren
  // always writes); anything else cannot be honoured, and dropping it silently would run the
  // sandbox with the wrong identity.
  if (
    !m ||
    uid.length !== 1 ||
    gid.length !== 1 ||
    m.containerID !== 0 ||
    gid[0]!.hostID !== m.hostID ||
    gid[0]!.size !== m.size
  ) {
    throw new WarrenError(
      "RUNTIME_UNSUPPORTED",
      "gvisor needs a user namespace mapping 0..N-1 to one host range, equal for uids and gids",
    );
  }
  delete spec.linux.uidMappings;
  delete spec.linux.gidMappings;
  // The Sentry serves its own /proc and sysfs from the sandbox's limits; lxcfs binds would
  // only reach its gofer, never the environment.
  spec.mounts = spec.mounts.filter((mt) => !isProcViewMount(mt));
  const net = spec.linux.namespaces.find((n) => n.type === "network");
  // With a path, warren-runsc enters the namespace and runsc (--network=host) uses it as is.
  spec.linux.namespaces = spec.linux.namespaces.filter(
    (n) => n.type !== "user" && !(n.type === "network" && n.path),
  );
  const limits = limitsFromResources(spec.linux.resources);
  return {
    spec,
    idmap: { hostStart: m.hostID, size: m.size },
    ...(net?.path ? { netns: net.path } : {}),
    ...(spec.linux.cgroupsPath ? { cgroupsPath: spec.linux.cgroupsPath } : {}),
    ...(limits ? { limits } : {}),
  };
}
