// DNS through the runner's caching resolver, end to end: an environment resolves a name via a
// local stand-in upstream, the second lookup is a cache hit, the TTL is honoured, its own name
// answers under the internal zone, and lookups leave no conntrack entries (they are NOTRACK).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import dnsPacket from "dns-packet";

interface Upstream {
  port: number;
  queries: () => number;
  close: () => void;
}

async function standInUpstream(): Promise<Upstream> {
  const sock = dgram.createSocket("udp4");
  let count = 0;
  sock.on("message", (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    count++;
    const exists = question.name === "www.example.test";
    const known = exists && question.type === "A";
    const reply = dnsPacket.encode({
      type: "response",
      id: q.id ?? 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (exists ? 0 : 3), // NODATA for other types
      questions: q.questions ?? [],
      answers: known ? [{ type: "A", name: question.name, ttl: 2, data: "198.51.100.7" }] : [],
      // Like a real authority: negative answers carry the zone's SOA, so they can be cached.
      authorities: known
        ? []
        : [
            {
              type: "SOA",
              name: "example.test",
              ttl: 60,
              data: {
                mname: "ns.example.test",
                rname: "admin.example.test",
                serial: 1,
                refresh: 60,
                retry: 60,
                expire: 60,
                minimum: 60,
              },
            },
          ],
    });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  return { port: sock.address().port, queries: () => count, close: () => sock.close() };
}

describe("DNS through the runner's resolver (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  let up: Upstream;
  // Async: the stand-in upstream runs in this process, so a blocking spawn would starve it.
  // DNS only: /etc/hosts names the environment too (for `hostname -f`), and would answer first.
  const lookup = (name: string) => h.cliAsync(["exec", "d", "--", "getent", "-s", "dns", "hosts", name]);
  before(async () => {
    up = await standInUpstream();
    h = await makeHarness("dns");
    await h.startDaemon({ WARREN_DNS_UPSTREAMS: `127.0.0.1:${up.port}` });
    const r = h.cli(["up", "--name", "d", "--disk", "1g", "--detach"]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await h?.teardown();
    up?.close();
  });

  it("resolv.conf points at the resolver with ndots:1 and no search list", () => {
    const r = h.cli(["exec", "d", "--", "cat", "/etc/resolv.conf"]);
    assert.match(r.stdout, /^nameserver 10\.201\.\d+\.1$/m);
    assert.match(r.stdout, /^options ndots:1$/m);
    assert.doesNotMatch(r.stdout, /search/);
  });

  it("a name resolves through the cache, and a second lookup is a hit", async () => {
    const first = await lookup("www.example.test");
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^198\.51\.100\.7\s/);
    const n = up.queries();
    assert.equal((await lookup("www.example.test")).status, 0);
    assert.equal(up.queries(), n, "the second lookup was answered from the cache");
  });

  it("the TTL is respected", async () => {
    const n = up.queries();
    await sleep(2500);
    assert.equal((await lookup("www.example.test")).status, 0);
    assert.ok(up.queries() > n, "after the 2 s TTL the upstream is asked again");
  });

  it("answers the environment's own name under the internal zone", async () => {
    const env = await h.client.getEnvironment("d");
    const r = await lookup("d.warren.internal");
    assert.equal(r.status, 0, r.stderr);
    const ip = r.stdout.split(/\s+/)[0]!;
    assert.match(ip, /^10\.201\.\d+\.\d+$/);
    assert.notEqual(
      (await lookup("other.warren.internal")).status,
      0,
      "other names in the zone are not served",
    );
    assert.ok(env.observed);
  });

  it("1,000 lookups leave no conntrack entries", async () => {
    const r = await h.cliAsync([
      "exec",
      "d",
      "--",
      "sh",
      "-c",
      "i=0; while [ $i -lt 1000 ]; do getent hosts www.example.test >/dev/null || exit 1; i=$((i+1)); done",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const ip = (await lookup("d.warren.internal")).stdout.split(/\s+/)[0]!;
    const ct = spawnSync("conntrack", ["-L", "-p", "udp", "--dport", "53"], { encoding: "utf8" });
    assert.ok(ct.status === 0 || ct.stderr.includes("0 flow entries"), ct.stderr);
    const mine = ct.stdout.split("\n").filter((l) => l.includes(`src=${ip} `));
    assert.deepEqual(mine, [], "DNS from the environment never enters conntrack");
    const stats = JSON.parse(h.cli(["dns", "stats", "--json"]).stdout) as { hits: number; misses: number };
    assert.ok(stats.hits >= 1000, `hits ${stats.hits}`);
  });
});
