// Shapes shared by the network modules. Everything here is derived from a RunnerConfig, so a
// restart (or a test with its own prefix and subnet) computes the same names and addresses.
import type { EgressPolicy } from "@warren/protocol";

export interface NetworkConfig {
  /** Environment subnet in CIDR form, e.g. 10.88.0.0/16. */
  subnet: string;
  /** Subnet base address as an unsigned 32-bit integer. */
  base: number;
  prefixLen: number;
  /** Highest slot that still fits: slots 0..maxSlot map to base+2 .. broadcast-1. */
  maxSlot: number;
  /** base + 1: the runner's resolver and every environment's gateway. */
  resolverIp: string;
  /** Host link carrying the resolver address: `<prefix>0`. */
  hostLink: string;
  /** nftables table name, in both the inet and the arp family. */
  table: string;
  /**
   * Interface group of every host-side veth of this runner. The rules match it (iifgroup), so an
   * interface is treated as an environment's from its first packet, before any set element
   * exists, and two runners (or a test and a real install) never match each other's veths.
   */
  ifGroup: number;
  /** Bind-mounted network namespaces: `<netnsDir>/<id>`. */
  netnsDir: string;
  /** Per-environment record of what was put in the nft sets (so teardown can take it out). */
  stateDir: string;
  /** The warren-net native helper. */
  helper: string;
}

export interface EnvNetworkSpec {
  id: string;
  slot: number;
  egress: EgressPolicy;
  /**
   * Adopt this process's network namespace instead of making one. The OCI runtime creates the
   * namespace inside the environment's user namespace, which must own it: only then may the
   * environment mount its own sysfs, and `runc exec` join it. A promise lets the firewall
   * elements go in while the runtime is still creating that process.
   */
  pid?: number | Promise<number>;
}

export interface EnvNetwork {
  id: string;
  slot: number;
  netnsPath: string;
  ip: string;
  hostIf: string;
  resolverIp: string;
}
