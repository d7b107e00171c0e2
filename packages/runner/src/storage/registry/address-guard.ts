// Keeps pulls from steering the runner at internal services (SSRF): every host the runner is
// about to connect to for a pull (registry, token realm, blob redirect) is resolved here, each
// address is checked, and the caller connects to the address checked, never resolving the name
// again, so a DNS answer cannot change between check and connect (rebinding).
import dns from "node:dns/promises";
import net from "node:net";
import os from "node:os";
import { WarrenError } from "@warren/protocol";

export const ALLOW_ENV = "WARREN_REGISTRY_ALLOW";

interface AllowEntry {
  /** A name ("registry.internal"), or undefined for address entries. */
  name?: string;
  /** Matches addresses when set (a single address is a /32 or /128). */
  subnet?: { net: string; prefix: number; family: "ipv4" | "ipv6" };
  port?: number;
}

export interface AllowList {
  entries: AllowEntry[];
  /** As configured, for messages. */
  source: string;
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

// Loopback, link-local, unspecified and the clouds' metadata services. Private ranges are not
// refused: on-premises registries commonly live there.
const REFUSED = new net.BlockList();
REFUSED.addSubnet("127.0.0.0", 8, "ipv4");
REFUSED.addSubnet("169.254.0.0", 16, "ipv4");
REFUSED.addSubnet("0.0.0.0", 8, "ipv4");
REFUSED.addAddress("100.100.100.200", "ipv4");
REFUSED.addAddress("::1", "ipv6");
REFUSED.addAddress("::", "ipv6");
REFUSED.addSubnet("fe80::", 10, "ipv6");
REFUSED.addAddress("fd00:ec2::254", "ipv6");

/** Parses "127.0.0.1, registry.lan:5000, 10.0.0.0/8, [::1]:5000". Throws on a malformed entry. */
export function parseAllowList(text: string | undefined): AllowList {
  const entries: AllowEntry[] = [];
  for (const raw of (text ?? "").split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const bad = () =>
      new WarrenError(
        "INVALID_ARGUMENT",
        `${ALLOW_ENV} entry "${item}" is not an address, CIDR, or host[:port]`,
      );
    const slash = item.indexOf("/");
    if (slash >= 0) {
      const addr = item.slice(0, slash);
      const prefix = Number(item.slice(slash + 1));
      const v = net.isIP(addr);
      if (!v || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 4 ? 32 : 128)) throw bad();
      entries.push({ subnet: { net: addr, prefix, family: v === 4 ? "ipv4" : "ipv6" } });
      continue;
    }
    const { host, port } = splitHostPort(item);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw bad();
    const v = net.isIP(host);
    const entry: AllowEntry = v
      ? { subnet: { net: host, prefix: v === 4 ? 32 : 128, family: v === 4 ? "ipv4" : "ipv6" } }
      : { name: host.toLowerCase() };
    if (!v && !/^[a-z0-9.-]+$/i.test(host)) throw bad();
    if (port !== undefined) entry.port = port;
    entries.push(entry);
  }
  return { entries, source: text ?? "" };
}

/** "host:port", "[v6]:port", "v6", "host" -> parts. */
export function splitHostPort(s: string): { host: string; port?: number } {
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    const host = s.slice(1, end);
    const rest = s.slice(end + 1);
    return rest.startsWith(":") ? { host, port: Number(rest.slice(1)) } : { host };
  }
  if (net.isIPv6(s)) return { host: s };
  const colon = s.lastIndexOf(":");
  return colon < 0 ? { host: s } : { host: s.slice(0, colon), port: Number(s.slice(colon + 1)) };
}

/** Why the runner refuses an address, or null when it is fine. */
export function refusedReason(address: string): string | null {
  const a = unmapV4(address);
  const family = net.isIPv4(a) ? "ipv4" : "ipv6";
  if (a === "169.254.169.254" || a === "100.100.100.200" || a === "fd00:ec2::254") {
    return "a cloud metadata address";
  }
  if (REFUSED.check(a, family)) return "a loopback, link-local or unspecified address";
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (unmapV4(i.address) === a) return "one of this host's own addresses";
  }
  return null;
}

function allowed(allow: AllowList, host: string, port: number, address: string): boolean {
  const a = unmapV4(address);
  const family = net.isIPv4(a) ? "ipv4" : "ipv6";
  return allow.entries.some((e) => {
    if (e.port !== undefined && e.port !== port) return false;
    if (e.name !== undefined) return e.name === host.toLowerCase();
    if (!e.subnet || e.subnet.family !== family) return false;
    const bl = new net.BlockList();
    bl.addSubnet(e.subnet.net, e.subnet.prefix, e.subnet.family);
    return bl.check(a, family);
  });
}

/**
 * True when an allow-list entry names this host itself: its name, or its literal address as a
 * single address (not a range), with the port when the entry has one. Only such a host may be
 * sent a login over plain HTTP; a range allows connecting, not exposing credentials.
 */
export function namesHost(allow: AllowList, hostname: string, port: number): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  const literal = net.isIP(host) ? unmapV4(host) : undefined;
  return allow.entries.some((e) => {
    if (e.port !== undefined && e.port !== port) return false;
    if (e.name !== undefined) return literal === undefined && e.name === host.toLowerCase();
    const single = e.subnet && e.subnet.prefix === (e.subnet.family === "ipv4" ? 32 : 128);
    return (
      single === true &&
      literal !== undefined &&
      net.isIP(literal) !== 0 &&
      sameAddress(e.subnet!.net, literal)
    );
  });
}

function sameAddress(a: string, b: string): boolean {
  const fa = net.isIPv4(a) ? "ipv4" : "ipv6";
  if (fa !== (net.isIPv4(b) ? "ipv4" : "ipv6")) return false;
  const bl = new net.BlockList();
  bl.addAddress(a, fa);
  return bl.check(b, fa);
}

/**
 * Resolves `host` (every address it has) and refuses it when any address is internal and not
 * allowed. Returns the address to connect to. `what` names the role in messages.
 */
export async function resolveChecked(
  host: string,
  port: number,
  allow: AllowList,
  what: string,
  /** The resolver (DNS is a network boundary: tests pass a stand-in). */
  lookup: HostLookup = (h) => dns.lookup(h, { all: true, verbatim: true }),
): Promise<CheckedAddress> {
  let addrs: { address: string; family: number }[];
  if (net.isIP(host)) addrs = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addrs = await lookup(host);
    } catch (err) {
      throw unresolvable(what, host, port, (err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
  if (addrs.length === 0) throw new WarrenError("REGISTRY_UNAVAILABLE", `${what} ${host} has no addresses`);
  for (const { address } of addrs) {
    const why = refusedReason(address);
    if (why === null || allowed(allow, host, port, address)) continue;
    const hostPort = port === 443 || port === 80 ? host : `${host}:${port}`;
    throw new WarrenError(
      "REGISTRY_REFUSED",
      `${what} ${hostPort} resolves to ${address}, ${why}; the runner refuses it so that pulls cannot ` +
        `reach internal services. An administrator can allow it on the registry allow-list: set ` +
        `${ALLOW_ENV}="${net.isIP(host) ? address : hostPort}" (comma-separated addresses, CIDRs or ` +
        "host[:port] names) in the daemon's environment and restart it" +
        (allow.source ? ` (it is now "${allow.source}")` : ""),
      { host, address, allowList: ALLOW_ENV },
    );
  }
  const first = addrs[0]!;
  return { address: unmapV4(first.address), family: net.isIPv4(unmapV4(first.address)) ? 4 : 6 };
}

export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

/** A host name this machine cannot resolve: say so, and the ways around it. */
function unresolvable(what: string, host: string, port: number, code: string): WarrenError {
  const hostPort = port === 443 || port === 80 ? host : `${host}:${port}`;
  return new WarrenError(
    "REGISTRY_UNAVAILABLE",
    `${what} ${hostPort}: this host cannot resolve that name (${code}). Check the spelling; if this ` +
      "host has no DNS for it, pull the image through a registry mirror it can reach " +
      "(`warren image pull MIRROR/REPOSITORY:TAG`) or `warren image import` a saved copy; a " +
      `registry on an internal address must also be allowed with ${ALLOW_ENV}="${hostPort}" in the ` +
      "daemon's environment",
    { host, allowList: ALLOW_ENV },
  );
}

/** True when every address is loopback: such registries are spoken to over plain HTTP (as Docker does). */
export function isLoopback(address: string): boolean {
  const a = unmapV4(address);
  return net.isIPv4(a) ? a.startsWith("127.") : a === "::1";
}

function unmapV4(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a.toLowerCase();
}
