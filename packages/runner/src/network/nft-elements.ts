// An environment as nft set elements: its (veth, address) pair for the anti-spoof and ARP
// checks, and its egress policy. These lines are the only firewall change per environment.
import type { EgressPolicy } from "@warren/protocol";
import type { NetworkConfig } from "./types.ts";

export interface EnvElements {
  hostIf: string;
  ip: string;
  egress: EgressPolicy;
}

interface Element {
  family: "inet" | "arp";
  set: string;
  value: string;
}

function elements(e: EnvElements): Element[] {
  const pair = `"${e.hostIf}" . ${e.ip}`;
  const out: Element[] = [
    { family: "inet", set: "env_src", value: pair },
    { family: "arp", set: "env_arp", value: pair },
  ];
  if (e.egress.mode === "none") out.push({ family: "inet", set: "egress_none", value: e.ip });
  if (e.egress.mode === "allow") {
    out.push({ family: "inet", set: "egress_allow_envs", value: e.ip });
    // IPv6 CIDRs are accepted by the policy grammar but environments have no IPv6 route yet.
    for (const c of e.egress.cidrs) {
      if (!c.includes(":")) out.push({ family: "inet", set: "egress_allow", value: `${e.ip} . ${c}` });
    }
  }
  return out;
}

const key = (el: Element) => `${el.family} ${el.set} ${el.value}`;
const line = (verb: string, nc: NetworkConfig, el: Element) =>
  `${verb} element ${el.family} ${nc.table} ${el.set} { ${el.value} }`;

/**
 * Script that makes the sets hold exactly `next` for this environment, given what earlier calls
 * may have put there (`prev`). `add` of an existing element is a no-op, and removal is written
 * as add-then-delete so it succeeds whether or not the element is still there: the script is
 * idempotent and safe to re-run after a crash.
 */
export function syncElements(nc: NetworkConfig, prev: EnvElements[], next: EnvElements | null): string {
  const want = next ? elements(next) : [];
  const keep = new Set(want.map(key));
  const lines: string[] = [];
  for (const el of prev.flatMap(elements)) {
    if (keep.has(key(el))) continue;
    keep.add(key(el)); // the same element owned twice is removed once
    lines.push(line("add", nc, el), line("delete", nc, el));
  }
  for (const el of want) lines.push(line("add", nc, el));
  return lines.length ? `${lines.join("\n")}\n` : "";
}
