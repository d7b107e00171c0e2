// Caching behaviour of the runner's resolver against an in-process stand-in upstream: hits,
// TTL countdown and expiry (injected clock), negative caching per RFC 2308, LRU bound, in-flight
// dedupe, and the stats that report all of it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  addresses,
  loopbackHost,
  query,
  type StandIn,
  startUpstream,
  ttls,
} from "@warren/testing/dns-fixture";
import { createResolver, type Resolver } from "../src/dns/index.ts";

describe("dns cache", () => {
  let up: StandIn;
  let res: Resolver;
  let now = 1_000_000;
  let srv: { host: string; port: number };

  before(async () => {
    up = await startUpstream();
    res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [up.addr],
      clock: () => now,
      cacheSize: 100,
    });
    await res.start();
    srv = res.addresses()[0]!;
  });
  after(async () => {
    await res.close();
    await up.close();
  });

  it("answers a second lookup from the cache without asking upstream", async () => {
    up.set("one.test", { a: ["192.0.2.10"], ttl: 300 });
    const r1 = await query(srv, "one.test");
    assert.deepEqual(addresses(r1), ["192.0.2.10"]);
    assert.equal(up.count("one.test"), 1);
    const r2 = await query(srv, "ONE.test");
    assert.deepEqual(addresses(r2), ["192.0.2.10"]);
    assert.equal(up.count("one.test"), 1, "second lookup (any case) must be a cache hit");
    // The client's own spelling comes back in the question (0x20 randomisation checks it).
    assert.equal(r2.packet.questions![0]!.name, "ONE.test");
  });

  it("counts TTLs down and asks upstream again once they expire", async () => {
    up.set("ttl.test", { ttl: 10 });
    assert.deepEqual(ttls(await query(srv, "ttl.test")), [10]);
    now += 3_000;
    assert.deepEqual(ttls(await query(srv, "ttl.test")), [7]);
    assert.equal(up.count("ttl.test"), 1);
    now += 6_999;
    assert.deepEqual(ttls(await query(srv, "ttl.test")), [1]);
    assert.equal(up.count("ttl.test"), 1);
    now += 1;
    assert.deepEqual(ttls(await query(srv, "ttl.test")), [10]);
    assert.equal(up.count("ttl.test"), 2, "expired entry must go upstream");
  });

  it("does not cache zero-TTL answers", async () => {
    up.set("zero.test", { ttl: 0 });
    await query(srv, "zero.test");
    await query(srv, "zero.test");
    assert.equal(up.count("zero.test"), 2);
  });

  it("caches NXDOMAIN and NODATA for min(SOA TTL, SOA minimum)", async () => {
    const before = res.stats();
    up.set("gone.test", { nxdomain: { soaTtl: 300, minimum: 60 } });
    const r1 = await query(srv, "gone.test");
    assert.equal(r1.rcode, 3);
    assert.deepEqual(ttls(r1), [60]);
    now += 20_000;
    const r2 = await query(srv, "gone.test");
    assert.equal(r2.rcode, 3);
    assert.deepEqual(ttls(r2), [40], "the SOA is served with the remaining negative TTL");
    assert.equal(up.count("gone.test"), 1);
    now += 40_000;
    await query(srv, "gone.test");
    assert.equal(up.count("gone.test"), 2);

    up.set("empty.test", { nodata: { soaTtl: 30, minimum: 900 } });
    const n1 = await query(srv, "empty.test");
    assert.equal(n1.rcode, 0);
    assert.equal(n1.packet.answers!.length, 0);
    assert.deepEqual(ttls(await query(srv, "empty.test")), [30]);
    assert.equal(up.count("empty.test"), 1);
    const after = res.stats();
    assert.equal(after.negativeHits - before.negativeHits, 2);
  });

  it("does not cache a negative answer without an SOA (RFC 2308 5)", async () => {
    up.set("nosoa.test", { nxdomain: true });
    assert.equal((await query(srv, "nosoa.test")).rcode, 3);
    assert.equal((await query(srv, "nosoa.test")).rcode, 3);
    assert.equal(up.count("nosoa.test"), 2);
  });

  it("sends concurrent identical misses upstream once", async () => {
    up.set("slow.test", { delayMs: 150, a: ["192.0.2.77"] });
    const rs = await Promise.all(Array.from({ length: 25 }, () => query(srv, "slow.test")));
    for (const r of rs) assert.deepEqual(addresses(r), ["192.0.2.77"]);
    assert.equal(up.count("slow.test"), 1);
  });

  it("stats add up", async () => {
    const s0 = res.stats();
    up.set("s1.test", {});
    up.set("s2.test", {});
    const before = up.total();
    await query(srv, "s1.test");
    await query(srv, "s1.test");
    await query(srv, "s1.test");
    await query(srv, "s2.test");
    const s = res.stats();
    assert.equal(s.hits - s0.hits, 2);
    assert.equal(s.misses - s0.misses, 2);
    assert.equal(s.upstreamQueries - s0.upstreamQueries, up.total() - before);
    assert.equal(s.upstreamErrors, 0);
    assert.deepEqual(s.upstreams, [up.addr]);
    assert.ok(s.cacheEntries >= 2);
    assert.ok(s.upstreamLatencyMs.p50 > 0 && s.upstreamLatencyMs.p99 >= s.upstreamLatencyMs.p50);
    assert.ok(s.upstreamLatencyMs.mean > 0);
  });
});

describe("dns cache bound", () => {
  it("evicts the least recently used entry beyond cacheSize", async () => {
    const up = await startUpstream();
    const res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [up.addr],
      cacheSize: 2,
    });
    await res.start();
    const srv = res.addresses()[0]!;
    try {
      await query(srv, "a.test");
      await query(srv, "b.test");
      await query(srv, "a.test"); // a is now most recently used
      await query(srv, "c.test"); // evicts b
      assert.equal(res.stats().cacheEntries, 2);
      await query(srv, "a.test");
      assert.equal(up.count("a.test"), 1);
      await query(srv, "b.test");
      assert.equal(up.count("b.test"), 2);
    } finally {
      await res.close();
      await up.close();
    }
  });

  it("caps TTLs at maxTtl and raises them to minTtl", async () => {
    const up = await startUpstream();
    const res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [up.addr],
      minTtl: 30,
      maxTtl: 100,
    });
    await res.start();
    const srv = res.addresses()[0]!;
    try {
      up.set("long.test", { ttl: 86400 });
      up.set("short.test", { ttl: 1 });
      assert.deepEqual(ttls(await query(srv, "long.test")), [100]);
      assert.deepEqual(ttls(await query(srv, "short.test")), [30]);
      await query(srv, "short.test");
      assert.equal(up.count("short.test"), 1);
    } finally {
      await res.close();
      await up.close();
    }
  });
});
