// Isolation matrix on the real kernel: environment A (a netns made by setupEnvNetwork) must not
// reach environment B, the host's loopback services, the host's own address, a daemon API port,
// or a stand-in metadata server, over TCP, UDP or ICMP. Each blocked case asserts the target's
// own listener (or an nft counter in the target's netns) saw nothing, and a positive control
// from an allowed source then reaches the same listener. Spoofed sources and forged ARP from A
// are dropped.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { run } from "../src/host/run.ts";
import { type EnvNetwork, setupEnvNetwork } from "../src/network/index.ts";
import { type Listener, NetFixture, PY } from "./network-fixture.ts";

const fx = new NetFixture();
let a: EnvNetwork;
let b: EnvNetwork;
let mdNs: string;
let hostIp: string;
const port = () => randomInt(20000, 40000);

const RAW_UDP = `
import socket, struct, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
udp = struct.pack("!HHHH", 40000, port, 13, 0) + b"spoof"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
for _ in range(3): s.sendto(ip + udp, (dst, 0))
`;
const RAW_ARP = `
import socket, struct, sys
smac, dmac = (bytes.fromhex(m.replace(":", "")) for m in sys.argv[1:3])
sip, tip = sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("eth0", 0))
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, smac, socket.inet_aton(sip), dmac, socket.inet_aton(tip))
for _ in range(3): s.send(dmac + smac + b"\\x08\\x06" + arp)
`;

async function mac(ns: string | null, dev: string): Promise<string> {
  const r = await fx.nsRun(ns, "ip", ["-j", "link", "show", "dev", dev]);
  return (JSON.parse(r.stdout) as { address: string }[])[0]!.address;
}

// ICMP echo-request counter per destination, in a test-owned table of the target's netns. On
// the host it sits after Warren's input chain (priority 10 > 0), so it sees only what passed.
async function icmpCounter(ns: string | null, dst: string, name: string): Promise<() => Promise<number>> {
  const t = `${fx.prefix}t`;
  await fx.nft(
    ns,
    `add table inet ${t}\nadd counter inet ${t} ${name}\n` +
      `add chain inet ${t} in { type filter hook input priority 10; policy accept; }\n` +
      `add rule inet ${t} in ip daddr ${dst} icmp type echo-request counter name ${name}\n`,
  );
  if (ns === null) fx.onCleanup(() => run("nft", ["delete", "table", "inet", t]));
  return () => fx.counter(ns, "inet", t, name);
}

before(async () => {
  const nc = await fx.init();
  a = await setupEnvNetwork(
    fx.cfg,
    { id: fx.id(1), slot: 0, egress: { mode: "all" } },
    { subnet: fx.subnet },
  );
  b = await setupEnvNetwork(
    fx.cfg,
    { id: fx.id(2), slot: 1, egress: { mode: "all" } },
    { subnet: fx.subnet },
  );
  assert.equal(a.resolverIp, nc.resolverIp);
  mdNs = await fx.standIn("md", 0, ["169.254.169.254", "100.100.100.200"]);
  // The host's own address: only a listener is bound to it; eth0 itself is never changed.
  const addrs = JSON.parse((await run("ip", ["-j", "-4", "addr", "show", "scope", "global"])).stdout) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  const main = addrs.find((l) => !l.ifname.startsWith(fx.prefix) && l.addr_info.length > 0);
  assert.ok(main, "the host has a global IPv4 address");
  hostIp = main.addr_info[0]!.local;
});

after(() => fx.cleanup());

interface Target {
  name: string;
  ns: string | null; // where the listener runs
  bind: string;
  tryFromA: string[]; // addresses A aims at
  control: { ns: string | null; addr: string };
  icmpDst?: string; // address A pings, counted in `ns`
}

test("environment A reaches none of the protected targets; allowed sources do", async () => {
  const targets: Target[] = [
    {
      name: "env-b",
      ns: b.netnsPath,
      bind: b.ip,
      tryFromA: [b.ip],
      control: { ns: b.netnsPath, addr: b.ip },
      icmpDst: b.ip,
    },
    {
      name: "host-loopback",
      ns: null,
      bind: "127.0.0.1",
      tryFromA: [a.resolverIp, "127.0.0.1"],
      control: { ns: null, addr: "127.0.0.1" },
      icmpDst: a.resolverIp,
    },
    {
      name: "host-address",
      ns: null,
      bind: hostIp,
      tryFromA: [hostIp],
      control: { ns: null, addr: hostIp },
      icmpDst: hostIp,
    },
    {
      name: "daemon-api",
      ns: null,
      bind: "0.0.0.0",
      tryFromA: [a.resolverIp, hostIp],
      control: { ns: null, addr: "127.0.0.1" },
    },
    {
      name: "metadata",
      ns: mdNs,
      bind: "0.0.0.0",
      tryFromA: ["169.254.169.254", "100.100.100.200"],
      control: { ns: null, addr: "169.254.169.254" },
      icmpDst: "169.254.169.254",
    },
  ];
  const listeners: Listener[] = [];
  const counters: (() => Promise<number>)[] = [];
  const ports: number[] = [];
  for (const [i, t] of targets.entries()) {
    ports[i] = port();
    listeners[i] = await fx.listen(t.ns, t.bind, ports[i]!);
    if (t.icmpDst) counters[i] = await icmpCounter(t.ns, t.icmpDst, `icmp${i}`);
  }

  // Every blocked attempt at once (each is bounded by its own timeout).
  const attempts: Promise<unknown>[] = [];
  for (const [i, t] of targets.entries()) {
    for (const addr of t.tryFromA) {
      attempts.push(
        fx.client(a.netnsPath, addr, ports[i]!, "tcp").then((out) => {
          // A's own 127.0.0.1 may refuse; it must never connect to the host's listener.
          assert.match(out, /tcp fail/, `${t.name} tcp via ${addr}`);
        }),
        fx.client(a.netnsPath, addr, ports[i]!, "udp"),
      );
    }
    if (t.icmpDst) {
      attempts.push(fx.ping(a.netnsPath, t.icmpDst).then((ok) => assert.equal(ok, false, `${t.name} icmp`)));
    }
  }
  await Promise.all(attempts);
  await new Promise((r) => setTimeout(r, 300));
  for (const [i, t] of targets.entries()) {
    assert.equal(listeners[i]!.count("tcp"), 0, `${t.name}: tcp from A reached the listener`);
    assert.equal(listeners[i]!.count("udp"), 0, `${t.name}: udp from A reached the listener`);
    if (counters[i]) assert.equal(await counters[i]!(), 0, `${t.name}: icmp from A reached the target`);
  }

  // Positive controls: the same listeners hear an allowed source.
  for (const [i, t] of targets.entries()) {
    assert.match(
      await fx.client(t.control.ns, t.control.addr, ports[i]!, "tcp"),
      /tcp ok/,
      `${t.name} control`,
    );
    await fx.client(t.control.ns, t.control.addr, ports[i]!, "udp");
    if (t.icmpDst) assert.equal(await fx.ping(t.control.ns, t.icmpDst), true, `${t.name} icmp control`);
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const [i, t] of targets.entries()) {
    assert.ok(listeners[i]!.count("tcp") > 0, `${t.name}: control tcp not heard`);
    assert.ok(listeners[i]!.count("udp") > 0, `${t.name}: control udp not heard`);
    if (counters[i]) assert.ok((await counters[i]!()) > 0, `${t.name}: control icmp not counted`);
  }
});

test("packets from A with B's source address are dropped; A's own address passes", async () => {
  const inetNs = await fx.standIn("in", 1, ["203.0.113.77"]);
  const p = port();
  const l = await fx.listen(inetNs, "203.0.113.77", p);
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_UDP, b.ip, "203.0.113.77", String(p)]);
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_UDP, "10.250.0.9", "203.0.113.77", String(p)]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(l.count("udp"), 0, "spoofed datagrams reached the internet stand-in");
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_UDP, a.ip, "203.0.113.77", String(p)]);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(l.count("udp") > 0, "control: A's own source address was not forwarded");
});

test("forged ARP from A is dropped before the host sees it; A's own ARP is not", async () => {
  const t = `${fx.prefix}t`;
  await fx.nft(
    null,
    `add table arp ${t}\nadd counter arp ${t} forged\nadd counter arp ${t} legit\n` +
      `add chain arp ${t} in { type filter hook input priority 10; policy accept; }\n` +
      `add rule arp ${t} in iifname "${a.hostIf}" arp saddr ip ${b.ip} counter name forged\n` +
      `add rule arp ${t} in iifname "${a.hostIf}" arp saddr ip ${a.ip} counter name legit\n`,
  );
  fx.onCleanup(() => run("nft", ["delete", "table", "arp", t]));
  const smac = await mac(a.netnsPath, "eth0");
  const dmac = await mac(null, a.hostIf);
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_ARP, smac, dmac, b.ip, a.resolverIp]);
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_ARP, smac, dmac, a.resolverIp, a.resolverIp]);
  assert.equal(await fx.counter(null, "arp", t, "forged"), 0, "forged ARP passed Warren's arp table");
  await fx.nsRun(a.netnsPath, PY, ["-c", RAW_ARP, smac, dmac, a.ip, a.resolverIp]);
  assert.ok((await fx.counter(null, "arp", t, "legit")) > 0, "control: A's own ARP was dropped");
});

test("the host end of a veth takes no IPv6 and no router advertisements", () => {
  const conf = (k: string) => readFileSync(`/proc/sys/net/ipv6/conf/${a.hostIf}/${k}`, "utf8").trim();
  assert.equal(conf("accept_ra"), "0");
  assert.equal(conf("disable_ipv6"), "1");
});
