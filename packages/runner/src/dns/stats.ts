// Counters and a bounded window of upstream latencies for DnsStats. The window is a ring so a
// long-lived resolver reports recent latency with fixed memory.
import type { DnsStats } from "@warren/protocol";

const WINDOW = 2048;

export class ResolverStats {
  /** Answers served from the cache, negative ones included. */
  hits = 0;
  /** The subset of `hits` that were NXDOMAIN/NODATA. */
  negativeHits = 0;
  /** Queries the cache could not answer (joined in-flight queries count here too). */
  misses = 0;
  /** Queries sent upstream, over UDP or TCP. */
  upstreamQueries = 0;
  /** Upstream attempts that timed out, failed, or answered SERVFAIL/REFUSED. */
  upstreamErrors = 0;
  /** Truncated upstream answers retried over TCP. */
  tcpRetries = 0;
  readonly #lat = new Float64Array(WINDOW);
  #n = 0;

  recordLatency(ms: number): void {
    this.#lat[this.#n % WINDOW] = ms;
    this.#n++;
  }

  snapshot(cacheEntries: number, upstreams: string[]): DnsStats {
    const xs = Array.from(this.#lat.subarray(0, Math.min(this.#n, WINDOW))).sort((a, b) => a - b);
    const pick = (p: number) =>
      xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!;
    const mean = xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      hits: this.hits,
      misses: this.misses,
      negativeHits: this.negativeHits,
      upstreamQueries: this.upstreamQueries,
      upstreamErrors: this.upstreamErrors,
      tcpRetries: this.tcpRetries,
      cacheEntries,
      upstreamLatencyMs: { p50: pick(0.5), p99: pick(0.99), mean },
      upstreams: [...upstreams],
    };
  }
}
