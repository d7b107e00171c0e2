// `warren class create --egress`, the egress shown by `class ls` and `inspect`, and
// `warren dns stats`, run as the real CLI against the fake daemon.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { ClassSpec, DnsStats, Environment } from "@warren/protocol";
import { dnsStatsTable, hitRatio } from "../src/commands/dns-stats.ts";
import { egressCell } from "../src/format.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
const create = ["class", "create", "c", "--cpus", "1", "--memory", "1g", "--disk", "2g"];

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.classes.length = 0;
  d.requests.length = 0;
  d.envs.clear();
});

describe("class create --egress", () => {
  for (const egress of ["all", "none", "10.0.0.0/8,2001:db8::/32"]) {
    it(`sends --egress ${egress} as given`, async () => {
      const r = await cli([...create, "--egress", egress, "--json"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(d.requests.at(-1)!.body).egress, egress);
      assert.ok((JSON.parse(r.stdout) as ClassSpec).egress.mode);
    });
  }

  it("leaves egress out when the flag is not given (the server defaults to all)", async () => {
    const r = await cli(create);
    assert.equal(r.status, 0, r.stderr);
    assert.equal("egress" in JSON.parse(d.requests.at(-1)!.body), false);
  });

  it("a bad CIDR fails with exit 1 and one line, before any request", async () => {
    for (const [egress, why] of [
      ["10.0.0.0/33", /prefix length "33"/],
      ["10.1.2.3/8", /did you mean 10\.0\.0\.0\/8/],
      ["everywhere", /"everywhere" is not an IPv4 or IPv6 address/],
    ] as const) {
      const r = await cli([...create, "--egress", egress]);
      assert.equal(r.status, 1, egress);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    assert.equal(d.requests.length, 0);
  });

  it("class ls shows an EGRESS column", async () => {
    await cli([...create, "--egress", "none"]);
    const r = await cli(["class", "ls"]);
    assert.equal(r.status, 0, r.stderr);
    const [header, row] = r.stdout.trimEnd().split("\n");
    assert.match(header!, /\bEGRESS$/);
    assert.match(row!, /\bnone$/);
    const j = await cli(["class", "ls", "--json"]);
    assert.deepEqual((JSON.parse(j.stdout) as ClassSpec[])[0]!.egress, { mode: "none" });
  });
});

describe("inspect shows the environment's effective egress", () => {
  it("in the human form and in --json", async () => {
    const env = makeEnv("dev");
    env.spec.egress = { mode: "allow", cidrs: ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"] };
    d.envs.set("dev", env);
    const h = await cli(["inspect", "dev"]);
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /^Egress: +10\.0\.0\.0\/8,192\.168\.0\.0\/16,2001:db8::\/32$/m);
    const j = await cli(["inspect", "dev", "--json"]);
    assert.deepEqual((JSON.parse(j.stdout) as Environment).spec.egress, env.spec.egress);
  });

  it("an environment from a daemon without egress shows all", async () => {
    d.envs.set("dev", makeEnv("dev"));
    const h = await cli(["inspect", "dev"]);
    assert.match(h.stdout, /^Egress: +all$/m);
  });
});

describe("dns stats", () => {
  it("--json prints the daemon's DnsStats", async () => {
    const r = await cli(["dns", "stats", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), d.dnsStats);
    assert.equal(d.requests.at(-1)!.url, "/api/v1/dns/stats");
  });

  it("prints a table of the counters", async () => {
    const r = await cli(["dns", "stats"]);
    assert.equal(r.status, 0, r.stderr);
    const rows = Object.fromEntries(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((l) => l.split(/ {2,}/) as [string, string]),
    );
    assert.deepEqual(rows, {
      METRIC: "VALUE",
      hits: "120",
      misses: "30",
      "hit ratio": "80.0%",
      "negative hits": "7",
      "upstream queries": "31",
      "upstream errors": "1",
      "tcp retries": "2",
      "cache entries": "64",
      "upstream latency p50": "1.25 ms",
      "upstream latency p99": "8.5 ms",
      upstreams: "10.0.0.53:53",
    });
  });

  it("a daemon error is a one-line user error", async () => {
    d.override.set("GET /api/v1/dns/stats", (_b, res) => {
      res.writeHead(504, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "TIMEOUT", message: "the resolver did not answer" }));
    });
    try {
      const r = await cli(["dns", "stats"]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, "warren: the resolver did not answer\n");
    } finally {
      d.override.clear();
    }
  });
});

describe("formatting", () => {
  it("hitRatio shows - before the first lookup", () => {
    assert.equal(hitRatio({ hits: 0, misses: 0 }), "-");
    assert.equal(hitRatio({ hits: 1, misses: 2 }), "33.3%");
  });

  it("dnsStatsTable shows - for no upstreams and whole latencies without decimals", () => {
    const s: DnsStats = {
      hits: 0,
      misses: 0,
      negativeHits: 0,
      upstreamQueries: 0,
      upstreamErrors: 0,
      tcpRetries: 0,
      cacheEntries: 0,
      upstreamLatencyMs: { p50: 0, p99: 12, mean: 0 },
      upstreams: [],
    };
    const out = dnsStatsTable(s);
    assert.match(out, /^upstream latency p99 +12 ms$/m);
    assert.match(out, /^upstreams +-$/m);
  });

  it("egressCell shortens long allow-lists", () => {
    assert.equal(egressCell(undefined), "all");
    assert.equal(egressCell({ mode: "none" }), "none");
    assert.equal(egressCell({ mode: "allow", cidrs: ["a/1", "b/2"] }), "a/1,b/2");
    assert.equal(egressCell({ mode: "allow", cidrs: ["a/1", "b/2", "c/3", "d/4"] }), "a/1,b/2 (+2 more)");
  });
});
