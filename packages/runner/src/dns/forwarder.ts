// Sends a cache miss upstream: each server in turn until one answers, a truncated UDP answer
// retried over TCP at the same server, and the server that last answered tried first next time
// so one dead resolver in resolv.conf costs a timeout once, not on every miss.
import { randomInt } from "node:crypto";
import { tcpExchange, type Upstream, udpExchange } from "./exchange.ts";
import type { ResolverStats } from "./stats.ts";
import { RCODE_REFUSED, RCODE_SERVFAIL, upstreamQuery } from "./wire.ts";

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Per attempt, ms. The whole miss can take up to upstreams x (udp + tcp) of this. */
  timeoutMs: number;
  stats: ResolverStats;
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  #preferred = 0;
  readonly #abort = new AbortController();

  constructor(o: ForwarderOptions) {
    this.#o = o;
  }

  /** The upstream answer for a cache key, or null when every upstream failed. */
  async resolve(key: string): Promise<Buffer | null> {
    const ups = this.#o.upstreams;
    const stats = this.#o.stats;
    const signal = this.#abort.signal;
    for (let i = 0; i < ups.length && !signal.aborted; i++) {
      const idx = (this.#preferred + i) % ups.length;
      const up = ups[idx]!;
      const query = upstreamQuery(key, randomInt(0, 0x10000));
      const t0 = performance.now();
      try {
        stats.upstreamQueries++;
        let resp = await udpExchange(up, query, this.#o.timeoutMs, signal);
        if ((resp[2]! & 0x02) !== 0) {
          stats.tcpRetries++;
          stats.upstreamQueries++;
          resp = await tcpExchange(up, query, this.#o.timeoutMs, signal);
        }
        const rcode = resp[3]! & 0x0f;
        if (rcode === RCODE_SERVFAIL || rcode === RCODE_REFUSED) {
          // The next server may well know; a SERVFAIL here is that server's problem.
          stats.upstreamErrors++;
          continue;
        }
        stats.recordLatency(performance.now() - t0);
        this.#preferred = idx;
        return resp;
      } catch {
        stats.upstreamErrors++;
      }
    }
    return null;
  }

  /** Ends every exchange in flight, so closing the resolver leaves no socket or timer behind. */
  close(): void {
    this.#abort.abort();
  }
}
