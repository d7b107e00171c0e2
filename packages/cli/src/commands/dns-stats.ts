// warren dns stats [--json]: the runner's DNS cache and upstream counters.
import type { DnsStats } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function dnsStatsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const stats = await client.dnsStats();
  if (opts.json) printJson(stats);
  else process.stdout.write(dnsStatsTable(stats));
  return 0;
}

/** Share of lookups answered from the cache; "-" before the first lookup rather than 0% or NaN. */
export function hitRatio(s: Pick<DnsStats, "hits" | "misses">): string {
  const total = s.hits + s.misses;
  return total === 0 ? "-" : `${((100 * s.hits) / total).toFixed(1)}%`;
}

/** Milliseconds to at most two decimals, without trailing zeros: 1.25 ms, 8.5 ms, 12 ms. */
function ms(v: number): string {
  return `${Number(v.toFixed(2))} ms`;
}

export function dnsStatsTable(s: DnsStats): string {
  const rows: [string, string][] = [
    ["hits", String(s.hits)],
    ["misses", String(s.misses)],
    ["hit ratio", hitRatio(s)],
    ["negative hits", String(s.negativeHits)],
    ["upstream queries", String(s.upstreamQueries)],
    ["upstream errors", String(s.upstreamErrors)],
    ["tcp retries", String(s.tcpRetries)],
    ["cache entries", String(s.cacheEntries)],
    ["upstream latency p50", ms(s.upstreamLatencyMs.p50)],
    ["upstream latency p99", ms(s.upstreamLatencyMs.p99)],
    ["upstreams", s.upstreams.length > 0 ? s.upstreams.join(", ") : "-"],
  ];
  return renderTable(["METRIC", "VALUE"], rows);
}
