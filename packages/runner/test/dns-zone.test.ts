// The internal zone (an environment's own name only, never forwarded) and resolv.conf parsing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { addresses, loopbackHost, query, type StandIn, startUpstream } from "@warren/testing/dns-fixture";
import { createResolver, hostUpstreams, parseUpstream, type Resolver } from "../src/dns/index.ts";

describe("dns internal zone", () => {
  let up: StandIn;
  let res: Resolver;
  let srv: { host: string; port: number };
  const clientA = loopbackHost();
  const lookups: string[] = [];

  before(async () => {
    up = await startUpstream();
    res = createResolver({
      listen: [{ host: loopbackHost(), port: 0 }],
      upstreams: [up.addr],
      zone: "warren.internal",
      ownName: (ip) => {
        lookups.push(ip);
        return ip === clientA ? { name: "dev1", ip: "10.88.0.5" } : undefined;
      },
    });
    await res.start();
    srv = res.addresses()[0]!;
  });
  after(async () => {
    await res.close();
    await up.close();
  });

  it("answers an environment's own name with its own address", async () => {
    const r = await query(srv, "dev1.warren.internal", { from: clientA });
    assert.equal(r.rcode, 0);
    assert.deepEqual(addresses(r), ["10.88.0.5"]);
    assert.ok(r.packet.flags! & (1 << 10), "authoritative");
    assert.ok(lookups.includes(clientA));
    const tcp = await query(srv, "DEV1.Warren.Internal", { from: clientA, tcp: true });
    assert.deepEqual(addresses(tcp), ["10.88.0.5"]);
    const aaaa = await query(srv, "dev1.warren.internal", { from: clientA, type: "AAAA" });
    assert.equal(aaaa.rcode, 0);
    assert.equal(aaaa.packet.answers!.length, 0, "NODATA: the name exists, it has no AAAA");
  });

  it("does not reveal other environments or forward anything under the zone", async () => {
    const other = await query(srv, "dev2.warren.internal", { from: clientA });
    assert.equal(other.rcode, 3);
    // The same name asked from a different client (another environment) is not its name.
    const notYours = await query(srv, "dev1.warren.internal", { from: "127.0.0.1" });
    assert.equal(notYours.rcode, 3);
    assert.equal((await query(srv, "x.dev1.warren.internal", { from: clientA })).rcode, 3);
    assert.equal((await query(srv, "warren.internal", { from: clientA })).rcode, 0);
    assert.equal(up.total(), 0, "nothing under the internal zone may reach the upstream");
  });

  it("forwards names that only look like the zone", async () => {
    await query(srv, "warren.internal.example", { from: clientA });
    await query(srv, "notwarren.internal", { from: clientA });
    assert.equal(up.count("warren.internal.example"), 1);
    assert.equal(up.count("notwarren.internal"), 1);
  });
});

describe("dns upstream configuration", () => {
  it("reads nameservers from resolv.conf text", () => {
    const text = [
      "# generated",
      "search example.com",
      "nameserver 10.0.0.2",
      "nameserver  fe80::1%eth0 ; link-local",
      "nameserver not-an-ip",
      "nameserver 10.0.0.2",
      "options edns0",
      "nameserver 1.1.1.1 # trailing",
    ].join("\n");
    assert.deepEqual(hostUpstreams(text), ["10.0.0.2", "fe80::1%eth0", "1.1.1.1"]);
    assert.deepEqual(hostUpstreams(""), []);
  });

  it("parses upstream addresses with and without ports", () => {
    assert.deepEqual(parseUpstream("10.0.0.2"), { host: "10.0.0.2", port: 53, label: "10.0.0.2" });
    assert.deepEqual(parseUpstream("127.0.0.9:5353"), {
      host: "127.0.0.9",
      port: 5353,
      label: "127.0.0.9:5353",
    });
    assert.deepEqual(parseUpstream("[::1]:5300"), { host: "::1", port: 5300, label: "[::1]:5300" });
    assert.equal(parseUpstream("::1").port, 53);
    assert.throws(() => parseUpstream("dns.example"), /not an IP/);
    assert.throws(() => parseUpstream("1.2.3.4:99999"), /bad port/);
  });

  it("never forwards to its own listen address", async () => {
    const host = loopbackHost();
    const res = createResolver({
      listen: [{ host, port: 5399 }],
      upstreams: [`${host}:5399`, "127.0.0.1:5300"],
    });
    assert.deepEqual(res.stats().upstreams, ["127.0.0.1:5300"]);
  });
});
