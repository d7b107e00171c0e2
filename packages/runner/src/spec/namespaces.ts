// Namespaces and the user-namespace id mapping. Root inside an environment is an unprivileged
// uid range outside; everything else is private to the environment.
import type { IdMap } from "../storage/types.ts";
import type { OciNamespace, OciNamespaceType, SpecOption } from "./types.ts";

export interface NamespaceOptions {
  /**
   * Path of an existing network namespace (e.g. /run/netns/warren-ab12) to join. Without it,
   * the runtime makes a fresh one that has only loopback.
   */
  networkPath?: string;
}

const PRIVATE_NAMESPACES: readonly OciNamespaceType[] = ["pid", "mount", "uts", "ipc", "cgroup", "network"];

function setNamespace(list: OciNamespace[], ns: OciNamespace): OciNamespace[] {
  return [...list.filter((n) => n.type !== ns.type), ns];
}

/** pid, mount, uts, ipc, cgroup and network namespaces (the user namespace is separate). */
export function withNamespaces(opts: NamespaceOptions = {}): SpecOption {
  return (spec) => {
    let list = spec.linux.namespaces;
    for (const type of PRIVATE_NAMESPACES) {
      const ns: OciNamespace = { type };
      if (type === "network" && opts.networkPath) ns.path = opts.networkPath;
      list = setNamespace(list, ns);
    }
    spec.linux.namespaces = list;
  };
}

/** A user namespace where ids 0..size-1 inside are hostStart..hostStart+size-1 outside. */
export function withUserNamespace(map: IdMap): SpecOption {
  if (!Number.isSafeInteger(map.hostStart) || map.hostStart <= 0)
    throw new Error(`invalid id map start ${map.hostStart}`);
  if (!Number.isSafeInteger(map.size) || map.size <= 0) throw new Error(`invalid id map size ${map.size}`);
  if (map.hostStart + map.size - 1 > 0xfffffffe) throw new Error("id map exceeds the 32-bit id space");
  return (spec) => {
    spec.linux.namespaces = setNamespace(spec.linux.namespaces, { type: "user" });
    const mapping = [{ containerID: 0, hostID: map.hostStart, size: map.size }];
    spec.linux.uidMappings = mapping;
    spec.linux.gidMappings = mapping.map((m) => ({ ...m }));
  };
}
