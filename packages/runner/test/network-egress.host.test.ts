// Egress on the real kernel: NAT to a stand-in "internet" (a netns the test made, routed from
// the host, never via eth0); an allow-list reaches only its CIDRs; "none" reaches nothing; a
// policy change on a live environment takes effect; DNS to the resolver passes and bypasses
// conntrack.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, test } from "node:test";
import { run } from "../src/host/run.ts";
import { type EnvNetwork, setupEnvNetwork } from "../src/network/index.ts";
import { type Listener, NetFixture } from "./network-fixture.ts";

const fx = new NetFixture();
const X = `203.0.113.${randomInt(2, 250)}`;
const Y = `198.51.100.${randomInt(2, 250)}`;
const P = randomInt(20000, 40000);
let lx: Listener;
let ly: Listener;
let natSource: string;
let all: EnvNetwork;
let allow: EnvNetwork;
let none: EnvNetwork;

before(async () => {
  await fx.init();
  const setup = (n: number, egress: Parameters<typeof setupEnvNetwork>[1]["egress"]) =>
    setupEnvNetwork(fx.cfg, { id: fx.id(n), slot: n, egress }, { subnet: fx.subnet });
  all = await setup(1, { mode: "all" });
  allow = await setup(2, { mode: "allow", cidrs: [`${X}/32`, "2001:db8::/32"] });
  none = await setup(3, { mode: "none" });
  const ns = await fx.standIn("in", 0, [X, Y]);
  natSource = `10.202.${fx.third}.1`;
  lx = await fx.listen(ns, X, P);
  ly = await fx.listen(ns, Y, P);
});

after(() => fx.cleanup());

async function reaches(env: EnvNetwork, l: Listener, addr: string): Promise<boolean> {
  const before = l.count("tcp");
  const out = await fx.client(env.netnsPath, addr, P, "tcp");
  // The listener prints after accept(), which may trail the client's connect() a little.
  for (let i = 0; i < 20 && l.count("tcp") === before; i++) await new Promise((r) => setTimeout(r, 25));
  return out === "tcp ok" && l.count("tcp") > before;
}

test("egress 'all' goes out through NAT", async () => {
  assert.equal(await reaches(all, lx, X), true);
  assert.equal(await reaches(all, ly, Y), true);
  assert.equal(
    lx.count("tcp", natSource),
    lx.count("tcp"),
    "the stand-in saw the host's address, not the env's",
  );
  assert.equal(lx.count("tcp", all.ip), 0);
});

test("an allow-list reaches only its CIDRs", async () => {
  const y0 = ly.count("tcp");
  assert.equal(await reaches(allow, lx, X), true);
  assert.equal(await reaches(allow, ly, Y), false);
  assert.equal(ly.count("tcp"), y0);
});

test("egress 'none' reaches nothing", async () => {
  const [x0, y0] = [lx.count("tcp"), ly.count("tcp")];
  assert.equal(await reaches(none, lx, X), false);
  assert.equal(await reaches(none, ly, Y), false);
  assert.equal(await fx.ping(none.netnsPath, X), false);
  assert.deepEqual([lx.count("tcp"), ly.count("tcp")], [x0, y0]);
});

test("changing a live environment's policy changes only its set elements", async () => {
  const again = await setupEnvNetwork(
    fx.cfg,
    { id: none.id, slot: none.slot, egress: { mode: "allow", cidrs: [`${Y}/32`] } },
    { subnet: fx.subnet },
  );
  assert.equal(again.ip, none.ip);
  assert.equal(await reaches(none, ly, Y), true);
  assert.equal(await reaches(none, lx, X), false);
  await setupEnvNetwork(
    fx.cfg,
    { id: allow.id, slot: allow.slot, egress: { mode: "all" } },
    { subnet: fx.subnet },
  );
  assert.equal(await reaches(allow, ly, Y), true, "allow-list lifted");
});

test("DNS to the resolver passes, over UDP and TCP, without conntrack entries", async () => {
  const dns = await fx.listen(null, all.resolverIp, 53);
  assert.equal(await fx.client(all.netnsPath, all.resolverIp, 53, "tcp"), "tcp ok");
  await fx.client(all.netnsPath, all.resolverIp, 53, "udp");
  await fx.client(none.netnsPath, all.resolverIp, 53, "udp"); // even with no egress at all
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(dns.count("tcp", all.ip), 1);
  assert.ok(dns.count("udp", all.ip) > 0);
  assert.ok(dns.count("udp", none.ip) > 0);
  // Other ports on the resolver address stay closed.
  assert.match(await fx.client(all.netnsPath, all.resolverIp, 54, "tcp"), /tcp fail/);
  const ct = await run("conntrack", ["-L", "-s", all.ip, "-d", all.resolverIp], { allowFail: true });
  assert.equal(ct.stdout.trim(), "", `conntrack entries for DNS: ${ct.stdout}`);
});
