// Lifecycle on the real kernel: 200 environments set up and torn down leave no veth, route,
// set element, netns file or state behind; the rule count does not grow with environments;
// `setupEnvNetwork` heals half-made environments and is a no-op on complete ones.
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { EgressPolicy } from "@warren/protocol";
import { run } from "../src/host/run.ts";
import {
  countRules,
  listEnvNetworks,
  setupEnvNetwork,
  teardownEnvNetwork,
  teardownEnvNetworks,
} from "../src/network/index.ts";
import { hostLeftovers, NetFixture } from "./network-fixture.ts";

const fx = new NetFixture();
before(() => fx.init());
after(() => fx.cleanup());

const policy = (n: number): EgressPolicy =>
  n % 3 === 0
    ? { mode: "all" }
    : n % 3 === 1
      ? { mode: "none" }
      : { mode: "allow", cidrs: ["192.0.2.0/24", "198.51.100.7/32"] };

async function setupMany(from: number, to: number): Promise<void> {
  const queue = Array.from({ length: to - from }, (_, i) => from + i);
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      await setupEnvNetwork(fx.cfg, { id: fx.id(n), slot: n, egress: policy(n) }, { subnet: fx.subnet });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function setElements(family: string, set: string): Promise<number> {
  const r = await run("nft", ["-j", "list", "set", family, fx.prefix, set]);
  const j = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
  return j.nftables.find((o) => o.set)?.set?.elem?.length ?? 0;
}

const SETS = [
  ["inet", "env_src"],
  ["inet", "egress_none"],
  ["inet", "egress_allow_envs"],
  ["inet", "egress_allow"],
  ["arp", "env_arp"],
] as const;

test("the rule count is the same at 10 and at 100 environments", async () => {
  const base = [await countRules("inet", fx.prefix), await countRules("arp", fx.prefix)];
  assert.ok(base[0]! > 5, "Warren's rules exist");
  await setupMany(0, 10);
  const at10 = [await countRules("inet", fx.prefix), await countRules("arp", fx.prefix)];
  await setupMany(10, 100);
  const at100 = [await countRules("inet", fx.prefix), await countRules("arp", fx.prefix)];
  assert.deepEqual(at10, base);
  assert.deepEqual(at100, base);
  assert.equal(await setElements("inet", "env_src"), 100);
  await teardownEnvNetworks(
    fx.cfg,
    Array.from({ length: 100 }, (_, n) => ({ id: fx.id(n), slot: n })),
    { subnet: fx.subnet },
  );
});

test("200 environments set up and torn down leave nothing behind", async () => {
  await setupMany(0, 200);
  assert.equal(listEnvNetworks(fx.cfg, { subnet: fx.subnet }).length, 200);
  assert.equal(await setElements("arp", "env_arp"), 200);
  // A few one by one (one without its state file, as after a lost runDir), the rest in a batch.
  writeFileSync(`${fx.nc.stateDir}/${fx.id(2)}.json`, "");
  for (const n of [0, 1, 2]) await teardownEnvNetwork(fx.cfg, fx.id(n), n, { subnet: fx.subnet });
  const rest = Array.from({ length: 197 }, (_, i) => ({ id: fx.id(i + 3), slot: i + 3 }));
  await teardownEnvNetworks(fx.cfg, rest, { subnet: fx.subnet });
  await teardownEnvNetworks(fx.cfg, rest, { subnet: fx.subnet }); // idempotent

  for (const [family, set] of SETS)
    assert.equal(await setElements(family, set), 0, `${family} ${set} emptied`);
  assert.deepEqual(listEnvNetworks(fx.cfg, { subnet: fx.subnet }), []);
  assert.deepEqual(readdirSync(fx.nc.stateDir), []);
  // Veths (and their /32 routes) go with their namespaces, in the kernel's batched cleanup.
  let left: string[] = [];
  for (let i = 0; i < 100; i++) {
    left = await hostLeftovers([`wr${fx.tag}`, `10.201.${fx.third}.`]);
    left = left.filter((l) => !l.startsWith("blackhole"));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(left, []);
});

test("set-up heals half-made environments and reuses complete ones", async () => {
  const id = fx.id(900);
  const o = { subnet: fx.subnet };
  const spec = { id, slot: 50, egress: { mode: "all" } as EgressPolicy };
  const env = await setupEnvNetwork(fx.cfg, spec, o);
  // Environments may reach only the resolver's port 53: a TCP handshake there proves the path.
  await fx.listen(null, env.resolverIp, 53);
  const ok = async (ns = env.netnsPath) => (await fx.client(ns, env.resolverIp, 53, "tcp")) === "tcp ok";
  assert.ok(await ok(), "set up");
  // Leftover host veth without its namespace mount (as after a crash during teardown).
  await run(fx.nc.helper, ["del", env.netnsPath]);
  await setupEnvNetwork(fx.cfg, spec, o);
  assert.ok(await ok(), "healed after the netns was lost");
  // Namespace without its veth (crash mid set-up).
  await run("ip", ["link", "del", env.hostIf]);
  await setupEnvNetwork(fx.cfg, spec, o);
  assert.ok(await ok(), "healed after the veth was lost");
  // A plain file where the netns mount should be.
  await run(fx.nc.helper, ["del", env.netnsPath]);
  writeFileSync(env.netnsPath, "");
  await setupEnvNetwork(fx.cfg, spec, o);
  assert.ok(await ok(), "healed over a stray file");
  // Complete: the helper reuses the pair (same ifindex) instead of rebuilding it.
  const idx = async () => (await run("cat", [`/sys/class/net/${env.hostIf}/ifindex`])).stdout.trim();
  const before = await idx();
  const out = await run(fx.nc.helper, [
    "add",
    env.netnsPath,
    env.hostIf,
    env.ip,
    env.resolverIp,
    String(fx.nc.ifGroup),
  ]);
  assert.match(out.stdout, /^reused /);
  assert.equal(await idx(), before);
  // A different slot on the same id rebuilds with the new address.
  const moved = await setupEnvNetwork(fx.cfg, { ...spec, slot: 51 }, o);
  assert.notEqual(moved.ip, env.ip);
  assert.ok(await ok(moved.netnsPath), "rebuilt on a new slot");
  await teardownEnvNetwork(fx.cfg, id, 51, o);
  assert.equal(existsSync(env.netnsPath), false);
  assert.equal(await setElements("inet", "env_src"), 0);
});
