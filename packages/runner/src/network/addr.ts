// IPv4 arithmetic and the network configuration derived from a RunnerConfig. Pure: the same
// config always yields the same subnet, addresses, names and interface group, so a restarted
// runner (or a test with its own prefix) finds exactly what an earlier one made.
import path from "node:path";
import type { RunnerConfig } from "../host/config.ts";
import { ID_RE } from "../host/names.ts";
import type { NetworkConfig } from "./types.ts";

export const DEFAULT_SUBNET = "10.88.0.0/16";
/** Environments the default subnet must hold (issue 3). Smaller subnets can be configured. */
export const MIN_DEFAULT_CAPACITY = 4096;

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function parseCidr4(cidr: string): { base: number; prefixLen: number } {
  const [addr, len] = cidr.split("/");
  const prefixLen = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32 || !/^\d+$/.test(len ?? "32")) {
    throw new Error(`bad prefix length in ${JSON.stringify(cidr)}`);
  }
  const ip = ipToInt(addr ?? "");
  const size = 2 ** (32 - prefixLen);
  if (ip % size !== 0) throw new Error(`${cidr} has host bits set`);
  return { base: ip, prefixLen };
}

/**
 * Interface group for this runner's host veths, derived from the prefix (FNV-1a), kept away
 * from 0 (the kernel's default group) and small well-known values other tools may use.
 */
export function ifGroupFor(prefix: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(prefix)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return 0x10000 + (h % 0x7ffe0000);
}

export interface NetworkOverrides {
  /** Environment subnet; default the config's, else $WARREN_SUBNET, else 10.88.0.0/16. */
  subnet?: string;
}

export function networkConfig(cfg: RunnerConfig, over: NetworkOverrides = {}): NetworkConfig {
  const subnet = over.subnet ?? cfg.subnet ?? process.env["WARREN_SUBNET"] ?? DEFAULT_SUBNET;
  const { base, prefixLen } = parseCidr4(subnet);
  if (prefixLen > 29) throw new Error(`subnet ${subnet} is too small for a resolver and environments`);
  // Host link names are limited to 15 bytes: `<prefix>0`.
  if (cfg.prefix.length > 14) throw new Error(`prefix ${cfg.prefix} is too long for a link name`);
  const size = 2 ** (32 - prefixLen);
  return {
    subnet,
    base,
    prefixLen,
    maxSlot: size - 4, // base (network), base+1 (resolver) and the broadcast address are taken
    resolverIp: intToIp(base + 1),
    hostLink: `${cfg.prefix}0`,
    table: cfg.prefix,
    ifGroup: ifGroupFor(cfg.prefix),
    netnsDir: path.join(cfg.runDir, "netns"),
    stateDir: path.join(cfg.runDir, "netstate"),
    helper: path.join(cfg.nativeDir, "warren-net"),
  };
}

/** Environment address: subnet base + 2 + slot. */
export function envAddress(nc: NetworkConfig, slot: number): string {
  if (!Number.isSafeInteger(slot) || slot < 0 || slot > nc.maxSlot) {
    throw new Error(`slot ${slot} does not fit subnet ${nc.subnet} (0..${nc.maxSlot})`);
  }
  return intToIp(nc.base + 2 + slot);
}

/** Host side of an environment's veth: `wr` + the 12-character id (14 bytes, under IFNAMSIZ). */
export function hostIfName(id: string): string {
  if (!ID_RE.test(id)) throw new Error(`invalid environment id ${JSON.stringify(id)}`);
  return `wr${id}`;
}

export function netnsPath(nc: NetworkConfig, id: string): string {
  if (!ID_RE.test(id)) throw new Error(`invalid environment id ${JSON.stringify(id)}`);
  return path.join(nc.netnsDir, id);
}
