// Transport paths of the runner's resolver: truncated upstream answers retried over TCP, TCP
// clients (including pipelined queries), UDP size limits, upstream failover and SERVFAIL.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { describe, it } from "node:test";
import { addresses, loopbackHost, query, type StandIn, startUpstream } from "@warren/testing/dns-fixture";
import dnsPacket from "dns-packet";
import { createResolver, type Resolver } from "../src/dns/index.ts";

async function withResolver(
  ups: string[],
  fn: (srv: { host: string; port: number }, res: Resolver) => Promise<void>,
  extra: { upstreamTimeoutMs?: number } = {},
): Promise<void> {
  const res = createResolver({ listen: [{ host: loopbackHost(), port: 0 }], upstreams: ups, ...extra });
  await res.start();
  try {
    await fn(res.addresses()[0]!, res);
  } finally {
    await res.close();
  }
}

const many = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`);

describe("dns transports", () => {
  it("retries a truncated upstream answer over TCP and returns the full answer", async () => {
    const up: StandIn = await startUpstream();
    try {
      up.set("big.test", { tc: true, a: many });
      await withResolver([up.addr], async (srv, res) => {
        const r = await query(srv, "big.test", { edns: true });
        assert.equal(r.tc, false);
        assert.equal(addresses(r).length, 60);
        assert.equal(up.tcpCount(), 1);
        assert.equal(res.stats().tcpRetries, 1);
        // A client without EDNS gets TC (the answer exceeds 512 bytes) and then asks over TCP.
        const small = await query(srv, "big.test");
        assert.equal(small.tc, true);
        assert.equal(small.packet.answers!.length, 0);
        const viaTcp = await query(srv, "big.test", { tcp: true });
        assert.equal(addresses(viaTcp).length, 60);
        assert.equal(up.count("big.test"), 2, "one UDP + one TCP upstream query, the rest from cache");
      });
    } finally {
      await up.close();
    }
  });

  it("serves TCP clients, pipelined queries on one connection included", async () => {
    const up = await startUpstream();
    try {
      up.set("t1.test", { a: ["192.0.2.1"] });
      up.set("t2.test", { a: ["192.0.2.2"] });
      await withResolver([up.addr], async (srv) => {
        assert.deepEqual(addresses(await query(srv, "t1.test", { tcp: true })), ["192.0.2.1"]);
        const ids = [0x1111, 0x2222];
        const msgs = ["t1.test", "t2.test"].map((name, i) =>
          dnsPacket.streamEncode({
            id: ids[i]!,
            type: "query",
            flags: 1 << 8,
            questions: [{ name, type: "A" }],
          }),
        );
        const got = await new Promise<Map<number, string>>((resolve, reject) => {
          const c = net.connect(srv.port, srv.host);
          const out = new Map<number, string>();
          let buf = Buffer.alloc(0);
          c.on("error", reject);
          c.on("connect", () => c.write(Buffer.concat(msgs)));
          c.on("data", (d) => {
            buf = Buffer.concat([buf, d]);
            while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
              const p = dnsPacket.streamDecode(buf.subarray(0, 2 + buf.readUInt16BE(0)));
              buf = buf.subarray(2 + buf.readUInt16BE(0));
              out.set(p.id!, (p.answers![0] as { data: string }).data);
            }
            if (out.size === 2) {
              c.destroy();
              resolve(out);
            }
          });
        });
        assert.equal(got.get(0x1111), "192.0.2.1");
        assert.equal(got.get(0x2222), "192.0.2.2");
      });
    } finally {
      await up.close();
    }
  });

  it("fails over to the next upstream on timeout and prefers the one that answered", async () => {
    const dead = dgram.createSocket("udp4"); // bound, never answers
    const deadHost = loopbackHost();
    await new Promise<void>((r) => dead.bind(0, deadHost, () => r()));
    const up = await startUpstream();
    try {
      up.set("fo.test", { a: ["192.0.2.9"] });
      const ups = [`${deadHost}:${dead.address().port}`, up.addr];
      await withResolver(
        ups,
        async (srv, res) => {
          const t0 = Date.now();
          assert.deepEqual(addresses(await query(srv, "fo.test")), ["192.0.2.9"]);
          assert.ok(Date.now() - t0 >= 200, "first attempt waited for the dead upstream");
          assert.equal(res.stats().upstreamErrors, 1);
          const t1 = Date.now();
          await query(srv, "fo2.test");
          assert.ok(Date.now() - t1 < 200, "the working upstream is now tried first");
          assert.equal(res.stats().upstreamErrors, 1);
        },
        { upstreamTimeoutMs: 200 },
      );
    } finally {
      dead.close();
      await up.close();
    }
  });

  it("tries the next upstream after a SERVFAIL, and answers SERVFAIL when all fail", async () => {
    const bad = await startUpstream({ servfail: true });
    const good = await startUpstream();
    const mute = await startUpstream({ drop: true });
    try {
      await withResolver([bad.addr, good.addr], async (srv, res) => {
        const r = await query(srv, "sf.test");
        assert.equal(r.rcode, 0);
        assert.equal(bad.count("sf.test"), 1);
        assert.equal(res.stats().upstreamErrors, 1);
      });
      await withResolver(
        [bad.addr, mute.addr],
        async (srv, res) => {
          const r = await query(srv, "all.test", { edns: true });
          assert.equal(r.rcode, 2);
          assert.equal(r.packet.questions![0]!.name, "all.test");
          assert.equal(res.stats().upstreamErrors, 2);
          // SERVFAIL is not cached: the next query goes upstream again.
          await query(srv, "all.test");
          assert.equal(bad.count("all.test"), 2);
        },
        { upstreamTimeoutMs: 150 },
      );
    } finally {
      await Promise.all([bad.close(), good.close(), mute.close()]);
    }
  });

  it("close() ends upstream queries in flight instead of waiting for their timeout", async () => {
    const mute = await startUpstream({ drop: true });
    const res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [mute.addr],
      upstreamTimeoutMs: 10_000,
    });
    await res.start();
    try {
      const pending = query(res.addresses()[0]!, "hang.test", { timeoutMs: 500 }).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(mute.count("hang.test"), 1);
      const t0 = Date.now();
      await res.close();
      assert.ok(Date.now() - t0 < 200);
      assert.ok((await pending) instanceof Error, "no answer after close");
    } finally {
      await mute.close();
    }
  });

  it("survives garbage datagrams and upstream garbage", async () => {
    const up = await startUpstream();
    const junk = dgram.createSocket("udp4");
    const junkHost = loopbackHost();
    await new Promise<void>((r) => junk.bind(0, junkHost, () => r()));
    // A fake upstream answering every query with a header that claims records it lacks.
    junk.on("message", (m, r) => {
      const out = Buffer.concat([m.subarray(0, m.length), Buffer.from([0xc0, 0x0c, 0, 1])]);
      out[2]! |= 0x80;
      out.writeUInt16BE(5, 6);
      junk.send(out, r.port, r.address);
    });
    try {
      await withResolver([`${junkHost}:${junk.address().port}`], async (srv) => {
        const r = await query(srv, "junk.test");
        assert.equal(r.rcode, 2, "a malformed upstream answer becomes SERVFAIL");
      });
      await withResolver([up.addr], async (srv) => {
        const s = dgram.createSocket("udp4");
        let seed = 7;
        const rnd = () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed;
        };
        for (let i = 0; i < 2000; i++) {
          const b = Buffer.alloc(rnd() % 80);
          for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
          if (i % 2 === 0 && b.length > 12) b.writeUInt16BE(1, 4); // plausible header, junk name
          s.send(b, srv.port, srv.host);
        }
        await new Promise((r) => setTimeout(r, 300));
        s.close();
        assert.deepEqual(addresses(await query(srv, "after.test")), ["192.0.2.1"]);
      });
    } finally {
      junk.close();
      await up.close();
    }
  });

  it("fails fast past maxInflight distinct upstream queries", async () => {
    const up = await startUpstream({ delayMs: 200 });
    const res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [up.addr],
      maxInflight: 3,
    });
    await res.start();
    try {
      const srv = res.addresses()[0]!;
      const rs = await Promise.all(["m1", "m2", "m3", "m4", "m5"].map((n) => query(srv, `${n}.test`)));
      assert.deepEqual(rs.map((r) => r.rcode).sort(), [0, 0, 0, 2, 2]);
      assert.equal(up.total(), 3);
    } finally {
      await res.close();
      await up.close();
    }
  });

  it("answers FORMERR to a query with two questions and drops non-queries", async () => {
    const up = await startUpstream();
    try {
      await withResolver([up.addr], async (srv) => {
        const two = dnsPacket.encode({
          id: 7,
          type: "query",
          questions: [
            { name: "a.test", type: "A" },
            { name: "b.test", type: "A" },
          ],
        });
        const s = dgram.createSocket("udp4");
        const reply = await new Promise<Buffer>((resolve) => {
          s.on("message", (m) => resolve(m));
          s.send(two, srv.port, srv.host);
        });
        s.close();
        assert.equal(reply[3]! & 0x0f, 1);
        assert.equal(reply.readUInt16BE(0), 7);
        assert.equal(up.total(), 0);
      });
    } finally {
      await up.close();
    }
  });
});
