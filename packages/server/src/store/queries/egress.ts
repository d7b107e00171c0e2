// The egress column (JSON EgressPolicy) in and out of the store. A malformed value throws rather
// than falling back to "all": a policy that cannot be read must not silently open the network.
import type { EgressPolicy } from "@warren/protocol";

export function egressToColumn(p: EgressPolicy): string {
  return JSON.stringify(p);
}

export function egressFromColumn(text: string): EgressPolicy {
  const p = JSON.parse(text) as Partial<{ mode: string; cidrs: unknown }>;
  if (p.mode === "all" || p.mode === "none") return { mode: p.mode };
  if (p.mode === "allow" && Array.isArray(p.cidrs) && p.cidrs.every((c) => typeof c === "string")) {
    return { mode: "allow", cidrs: p.cidrs as string[] };
  }
  throw new Error(`stored egress policy is malformed: ${text.slice(0, 200)}`);
}
