// The host's upstream resolvers, read from resolv.conf text (the caller reads the file; this
// module never writes it). Only `nameserver` lines matter to a forwarder.
import net from "node:net";

/** Nameserver addresses in file order, duplicates dropped, malformed lines ignored. */
export function hostUpstreams(resolvConfText: string): string[] {
  const out: string[] = [];
  for (const raw of resolvConfText.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = m[1]!;
    if (net.isIP(addr.split("%")[0]!) === 0) continue;
    if (!out.includes(addr)) out.push(addr);
  }
  return out;
}
