// Environment networking (issue 3): routed veth pairs, one nftables table with sets, NAT and
// per-environment egress policy. See env.ts and host.ts for the two halves.
export {
  DEFAULT_SUBNET,
  envAddress,
  hostIfName,
  ifGroupFor,
  type NetworkOverrides,
  netnsPath,
  networkConfig,
} from "./addr.ts";
export { type EnvNetworkRef, setupEnvNetwork, teardownEnvNetwork, teardownEnvNetworks } from "./env.ts";
export { ensureHostNetwork, listEnvNetworks, removeHostNetwork } from "./host.ts";
export { countRules } from "./nft.ts";
export type { EnvNetwork, EnvNetworkSpec, NetworkConfig } from "./types.ts";
