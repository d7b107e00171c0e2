// The egress flag's grammar, shared by the CLI (to fail fast) and the server (the authority):
// `all`, `none`, or a comma-separated list of IPv4/IPv6 CIDRs. A bare address means that one
// host (/32 or /128).
import net from "node:net";
import type { EgressPolicy } from "./env.ts";
import { WarrenError } from "./errors.ts";

export const DEFAULT_EGRESS: EgressPolicy = { mode: "all" };
/** Keeps a class's rule set small enough for one nftables set per environment. */
export const MAX_EGRESS_CIDRS = 256;

const USAGE = "use all, none, or CIDRs separated by commas (10.0.0.0/8,2001:db8::/32)";

function invalid(input: string, why: string): never {
  throw new WarrenError("INVALID_ARGUMENT", `invalid egress "${input}": ${why}; ${USAGE}`, {
    field: "egress",
    input,
  });
}

/** Parses the --egress value. Throws INVALID_ARGUMENT saying which part is wrong. */
export function parseEgress(input: string): EgressPolicy {
  const text = input.trim();
  if (text === "all" || text === "none") return { mode: text };
  if (text === "") invalid(input, "it is empty");
  const parts = text.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) invalid(input, "it has an empty entry");
  if (parts.some((p) => p === "all" || p === "none")) {
    invalid(input, `"all" and "none" stand alone and cannot be mixed with CIDRs`);
  }
  if (parts.length > MAX_EGRESS_CIDRS) invalid(input, `at most ${MAX_EGRESS_CIDRS} CIDRs are allowed`);
  const cidrs: string[] = [];
  for (const p of parts) {
    const c = parseCidr(p, input);
    if (!cidrs.includes(c)) cidrs.push(c);
  }
  return { mode: "allow", cidrs };
}

/** The policy in the flag's own grammar, for tables and messages. */
export function formatEgress(p: EgressPolicy): string {
  return p.mode === "allow" ? p.cidrs.join(",") : p.mode;
}

function parseCidr(part: string, input: string): string {
  const slash = part.indexOf("/");
  const addr = (slash < 0 ? part : part.slice(0, slash)).toLowerCase();
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) && !addr.includes("%") ? 6 : 0;
  if (family === 0) invalid(input, `"${part}" is not an IPv4 or IPv6 address`);
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = part.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
      invalid(input, `"${part}" has prefix length "${p}"; it must be 0 to ${bits}`);
    }
    prefix = Number(p);
  }
  const bytes = family === 4 ? addr.split(".").map(Number) : ipv6Bytes(addr);
  if (hostBitsSet(bytes, prefix)) {
    const network = family === 4 ? maskV4(bytes, prefix) : "the network address";
    invalid(input, `"${part}" has bits set past the /${prefix} prefix (did you mean ${network}/${prefix}?)`);
  }
  return `${addr}/${prefix}`;
}

function hostBitsSet(bytes: number[], prefix: number): boolean {
  return bytes.some((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return (b & (0xff >> keep)) !== 0;
  });
}

function maskV4(bytes: number[], prefix: number): string {
  return bytes.map((b, i) => b & ~(0xff >> Math.max(0, Math.min(8, prefix - i * 8))) & 0xff).join(".");
}

/** 16 bytes of an address net.isIPv6 already accepted (so only the shapes it allows occur). */
function ipv6Bytes(addr: string): number[] {
  // An embedded IPv4 tail (::ffff:10.0.0.1) is the last two groups; rewrite it in hex first.
  const text = addr.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((g) => g.toString(16)).join(":"),
  );
  const [head, rest] = text.split("::") as [string, string | undefined];
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}
