// Warren's whole firewall, as nft script text. One `inet` table (plus an `arp` table) whose
// chains are written once; an environment is only ever a handful of set elements, so the rule
// count stays constant however many environments exist, and adding one never touches a chain.
//
// "From an environment" is `iifgroup <ifGroup>`: the native helper puts every host veth of this
// runner in that group at creation, so a veth is locked down before its elements exist (the
// anti-spoof rule drops everything from a pair that is not registered).
import type { NetworkConfig } from "./types.ts";

/** Always-blocked IPv4 destinations, besides the host itself (input) and other envs (output). */
export const BLOCKED_V4 = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, incl. AWS/GCP/Azure/OpenStack metadata 169.254.169.254
  "100.100.100.200", // Alibaba Cloud metadata
  "168.63.129.16", // Azure wireserver
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved and broadcast
];
/** Listed for when environments get IPv6; today all IPv6 from environments is dropped. */
export const BLOCKED_V6 = ["fd00:ec2::254", "fe80::/10", "ff00::/8", "::1"];

/**
 * The idempotent host script: declares tables, sets and chains (a no-op when they exist), then
 * flushes and re-adds the chains' rules and the static sets in the same transaction, so a runner
 * upgrade rewrites the rules atomically while keeping every registered environment's elements.
 */
export function hostRuleset(nc: NetworkConfig): string {
  const t = nc.table;
  const g = nc.ifGroup;
  const r = nc.resolverIp;
  const chains: Record<string, { hook?: string; rules: string[] }> = {
    // DNS to the resolver never enters conntrack: no table to fill, no 5-second races.
    raw_pre: {
      hook: "type filter hook prerouting priority raw; policy accept;",
      rules: [`iifgroup ${g} ip daddr ${r} meta l4proto { tcp, udp } th dport 53 notrack`],
    },
    raw_out: {
      hook: "type filter hook output priority raw; policy accept;",
      rules: [`oifgroup ${g} ip saddr ${r} meta l4proto { tcp, udp } th sport 53 notrack`],
    },
    // Before routing, so it covers both the host (input) and everything beyond (forward).
    pre: {
      hook: "type filter hook prerouting priority -150; policy accept;",
      rules: [`iifgroup ${g} jump from_env`],
    },
    from_env: {
      rules: [
        "meta nfproto != ipv4 drop", // IPv6 incl. router advertisements; environments are v4-only
        "iifname . ip saddr != @env_src drop", // spoofed sources and unregistered veths
      ],
    },
    // The host's own addresses and services (the daemon's API, anything on loopback): only DNS.
    input: {
      hook: "type filter hook input priority filter; policy accept;",
      rules: [
        `iifgroup ${g} ip daddr ${r} meta l4proto { tcp, udp } th dport 53 accept`,
        `iifgroup ${g} drop`,
      ],
    },
    forward: {
      hook: "type filter hook forward priority filter; policy accept;",
      rules: [
        `oifgroup ${g} ct state established,related accept`,
        `oifgroup ${g} drop`, // nothing new into an environment: this is what isolates envs
        `iifgroup ${g} jump egress`,
      ],
    },
    egress: {
      rules: [
        `ip daddr { ${nc.subnet} } drop`,
        "ip daddr @blocked4 drop",
        "ip saddr @egress_none drop",
        "ip saddr . ip daddr @egress_allow accept",
        "ip saddr @egress_allow_envs drop",
      ],
    },
    // Host processes may answer environments (DNS replies are untracked) but not open to them.
    output: {
      hook: "type filter hook output priority filter; policy accept;",
      rules: [
        `oifgroup ${g} ct state established,related accept`,
        `oifgroup ${g} ip saddr ${r} meta l4proto { tcp, udp } th sport 53 accept`,
        `oifgroup ${g} drop`,
      ],
    },
    postrouting: {
      hook: "type nat hook postrouting priority srcnat; policy accept;",
      rules: [`ip saddr ${nc.subnet} oifgroup != ${g} masquerade`],
    },
  };
  const out: string[] = [
    `add table inet ${t}`,
    `add set inet ${t} env_src { type ifname . ipv4_addr; }`,
    `add set inet ${t} egress_none { type ipv4_addr; }`,
    `add set inet ${t} egress_allow_envs { type ipv4_addr; }`,
    `add set inet ${t} egress_allow { type ipv4_addr . ipv4_addr; flags interval; }`,
    `add set inet ${t} blocked4 { type ipv4_addr; flags interval; }`,
    `add set inet ${t} blocked6 { type ipv6_addr; flags interval; }`,
  ];
  for (const [name, c] of Object.entries(chains)) {
    out.push(`add chain inet ${t} ${name}${c.hook ? ` { ${c.hook} }` : ""}`);
  }
  for (const name of Object.keys(chains)) out.push(`flush chain inet ${t} ${name}`);
  for (const [name, c] of Object.entries(chains)) {
    for (const rule of c.rules) out.push(`add rule inet ${t} ${name} ${rule}`);
  }
  out.push(`flush set inet ${t} blocked4`, `add element inet ${t} blocked4 { ${BLOCKED_V4.join(", ")} }`);
  out.push(`flush set inet ${t} blocked6`, `add element inet ${t} blocked6 { ${BLOCKED_V6.join(", ")} }`);
  // Forged ARP: a sender address that is not the environment's own, on its own veth.
  out.push(
    `add table arp ${t}`,
    `add set arp ${t} env_arp { type ifname . ipv4_addr; }`,
    `add chain arp ${t} input { type filter hook input priority filter; policy accept; }`,
    `flush chain arp ${t} input`,
    `add rule arp ${t} input iifgroup ${g} iifname . arp saddr ip != @env_arp drop`,
  );
  return `${out.join("\n")}\n`;
}

/** Deletes Warren's tables; the add-first makes it a no-op when they are already gone. */
export function removeRuleset(nc: NetworkConfig): string {
  const t = nc.table;
  return [
    `add table inet ${t}`,
    `delete table inet ${t}`,
    `add table arp ${t}`,
    `delete table arp ${t}`,
    "",
  ].join("\n");
}
