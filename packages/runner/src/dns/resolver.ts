// The runner's caching resolver: one address every environment can reach, UDP and TCP on the
// same port. The hit path stays on raw bytes (parse the question, one Map lookup, copy and
// patch); misses go through the forwarder, and concurrent identical misses share one upstream
// query.
import { readFileSync } from "node:fs";
import type { DnsStats } from "@warren/protocol";
import { type Answer, prepareAnswer, render, type TtlPolicy } from "./answer.ts";
import { AnswerCache } from "./cache.ts";
import { parseUpstream } from "./exchange.ts";
import { Forwarder } from "./forwarder.ts";
import { type Listener, type Reply, tcpListener, udpListener } from "./listeners.ts";
import { hostUpstreams } from "./resolv-conf.ts";
import { ResolverStats } from "./stats.ts";
import { isQueryError, parseQuery, RCODE_SERVFAIL, shortReply } from "./wire.ts";
import { type OwnName, zoneAnswer, zoneWire } from "./zone.ts";

export interface ResolverOptions {
  /** Where to serve, UDP and TCP each. Port 0 picks one free port shared by both. */
  listen: { host: string; port: number }[];
  /** "ip" or "ip:port" / "[ip6]:port". Default: the nameservers in `resolvConfPath`. */
  upstreams?: string[];
  resolvConfPath?: string;
  /** Internal zone, e.g. "warren.internal". Unset: nothing is answered locally. */
  zone?: string;
  /** The environment behind a client address, so it can look up its own name. */
  ownName?: (clientIp: string) => OwnName | undefined;
  /** Milliseconds, monotonic enough for TTLs. Tests inject one. */
  clock?: () => number;
  cacheSize?: number;
  minTtl?: number;
  maxTtl?: number;
  maxNegativeTtl?: number;
  /** Per upstream attempt. */
  upstreamTimeoutMs?: number;
  /** Distinct names resolving upstream at once; more fail fast with SERVFAIL. */
  maxInflight?: number;
  /** Idle TCP client connections are closed after this (RFC 7766 suggests seconds). */
  tcpIdleMs?: number;
}

export interface Resolver {
  start(): Promise<void>;
  close(): Promise<void>;
  stats(): DnsStats;
  /** Bound addresses, with the real port when 0 was asked for. */
  addresses(): { host: string; port: number }[];
  /** Drops every cached answer (e.g. after the host's upstreams changed). */
  flush(): void;
}

interface Waiter {
  msg: Buffer;
  qEnd: number;
  edns: { dnssecOk: boolean } | null;
  maxSize: number;
  reply: Reply;
}

export function createResolver(opts: ResolverOptions): Resolver {
  // Monotonic by default: a wall-clock step must not expire or resurrect the whole cache.
  const clock = opts.clock ?? (() => performance.now());
  const policy: TtlPolicy = {
    minTtl: opts.minTtl ?? 0,
    maxTtl: opts.maxTtl ?? 86400,
    maxNegativeTtl: opts.maxNegativeTtl ?? 3600,
  };
  const own = new Set(opts.listen.map((l) => `${l.host}:${l.port}`));
  const upstreams = (
    opts.upstreams ?? hostUpstreams(readFileSync(opts.resolvConfPath ?? "/etc/resolv.conf", "utf8"))
  )
    .map(parseUpstream)
    // Forwarding to ourselves would loop each miss until it times out.
    .filter((u) => !own.has(`${u.host}:${u.port}`));
  const stats = new ResolverStats();
  const cache = new AnswerCache(opts.cacheSize ?? 10_000);
  const forwarder = new Forwarder({ upstreams, timeoutMs: opts.upstreamTimeoutMs ?? 2000, stats });
  const inflight = new Map<string, Waiter[]>();
  const resolving = new Set<Promise<void>>();
  const maxInflight = opts.maxInflight ?? 1000;
  const zw = opts.zone ? zoneWire(opts.zone) : "";
  const listeners: Listener[] = [];
  let closed = false;

  // The name part of the key ends with the zone's wire form, starting on a label boundary.
  function inZone(msg: Buffer, key: string, nameLen: number): boolean {
    if (zw === "" || nameLen < zw.length || !key.startsWith(zw, nameLen - zw.length)) return false;
    const target = 12 + nameLen - zw.length;
    let off = 12;
    while (off < target) off += msg[off]! + 1;
    return off === target;
  }

  // One hostile or broken packet must never take the resolver down for every environment.
  function safeHandle(msg: Buffer, clientIp: string, tcp: boolean, reply: Reply): void {
    try {
      handle(msg, clientIp, tcp, reply);
    } catch {
      // Dropped: the client retries or gives up, as for a lost datagram.
    }
  }

  function handle(msg: Buffer, clientIp: string, tcp: boolean, reply: Reply): void {
    const q = parseQuery(msg);
    if (isQueryError(q)) {
      if (!q.drop) reply(shortReply(msg, q.qEnd, q.rcode));
      return;
    }
    const maxSize = tcp ? 65535 : q.edns ? q.edns.udpSize : 512;
    if (inZone(msg, q.key, q.nameEnd - 12)) {
      reply(zoneAnswer(msg, q.qEnd, opts.zone!, opts.ownName?.(clientIp), q.edns ? q.edns.dnssecOk : null));
      return;
    }
    const now = clock();
    const hit = cache.get(q.key, now);
    if (hit !== undefined) {
      stats.hits++;
      if (hit.negative) stats.negativeHits++;
      reply(render(hit, msg, q.qEnd, q.edns, maxSize, now));
      return;
    }
    stats.misses++;
    const w: Waiter = { msg, qEnd: q.qEnd, edns: q.edns, maxSize, reply };
    const pending = inflight.get(q.key);
    if (pending !== undefined) {
      pending.push(w);
      return;
    }
    if (inflight.size >= maxInflight) {
      // A flood of distinct names (random-subdomain attacks) must not open a socket each;
      // past the limit a miss fails fast and the client retries later.
      stats.upstreamErrors++;
      reply(shortReply(msg, q.qEnd, RCODE_SERVFAIL));
      return;
    }
    inflight.set(q.key, [w]);
    const p = forwarder.resolve(q.key).then((resp) => finish(q.key, resp));
    resolving.add(p);
    void p.finally(() => resolving.delete(p));
  }

  function finish(key: string, resp: Buffer | null): void {
    const waiters = inflight.get(key) ?? [];
    inflight.delete(key);
    if (closed) return;
    const now = clock();
    let a: Answer | null = null;
    try {
      a = resp ? prepareAnswer(resp, now, policy) : null;
    } catch {
      // A malformed upstream answer is that upstream's failure, not the resolver's crash.
      stats.upstreamErrors++;
    }
    if (a) cache.set(key, a);
    for (const w of waiters) {
      w.reply(
        a ? render(a, w.msg, w.qEnd, w.edns, w.maxSize, now) : shortReply(w.msg, w.qEnd, RCODE_SERVFAIL),
      );
    }
  }

  return {
    async start() {
      for (const l of opts.listen) {
        // UDP first: with port 0 the kernel picks, and TCP then takes the same number. That
        // number can be taken for TCP already, so a picked port is retried a few times.
        for (let attempt = 0; ; attempt++) {
          const udp = await udpListener(l.host, l.port, (m, ip, r) => safeHandle(m, ip, false, r));
          try {
            const tcp = await tcpListener(l.host, udp.port, opts.tcpIdleMs ?? 10_000, (m, ip, r) =>
              safeHandle(m, ip, true, r),
            );
            listeners.push(udp, tcp);
            break;
          } catch (e) {
            await udp.close();
            if (l.port !== 0 || attempt >= 5) throw new Error(`dns listen tcp ${l.host}:${udp.port}: ${e}`);
          }
        }
      }
    },
    async close() {
      closed = true;
      forwarder.close();
      await Promise.allSettled([...resolving]);
      await Promise.all(listeners.map((l) => l.close()));
      listeners.length = 0;
    },
    stats: () =>
      stats.snapshot(
        cache.size,
        upstreams.map((u) => u.label),
      ),
    addresses: () => listeners.filter((l) => l.kind === "udp").map((l) => ({ host: l.host, port: l.port })),
    flush: () => cache.clear(),
  };
}
