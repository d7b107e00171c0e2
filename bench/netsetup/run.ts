// Environment network set-up and teardown, p50/p99, with 10, 100 and 1,000 environments already
// present: Warren's way (one native helper doing batched netlink + one nft transaction, side by
// side) against the same result built with separate `ip` and `nft` commands. Also the nft change
// alone, whose latency must not grow with the number of environments. Run by hand as root:
//   node bench/netsetup/run.ts            (re-executes itself pinned to CPU 1 via taskset)
// Uses its own prefix and subnet, and removes everything it made, even on failure.
import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  applyNft,
  defaultConfig,
  ensureHostNetwork,
  envAddress,
  hostIfName,
  networkConfig,
  removeHostNetwork,
  run,
  setupEnvNetwork,
  syncElements,
  teardownEnvNetwork,
  teardownEnvNetworks,
} from "@warren/runner";
import { percentile, printTable, timeMs, writeResults } from "../lib/stats.ts";

if (!process.env["WARREN_BENCH_PINNED"]) {
  // The component under test (helper, nft, ip) inherits this affinity: CPU 1.
  const r = spawnSync("taskset", ["-c", "1", process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, WARREN_BENCH_PINNED: "1" },
  });
  process.exit(r.status ?? 1);
}

const SAMPLES = Number(process.env["SAMPLES"] ?? 50);
console.log(
  `load average at start: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
const tag = randomBytes(3).toString("hex");
const dir = mkdtempSync(path.join(os.tmpdir(), "warren-netbench-"));
const cfg = defaultConfig({
  root: path.join(dir, "root"),
  runDir: path.join(dir, "run"),
  prefix: `wb${tag}`,
});
const over = { subnet: `10.203.${16 * randomInt(0, 15)}.0/20` };
const id = (n: number) => `${tag}${String(n).padStart(6, "0")}`;
const baseNs = (n: number) => `wb${tag}-${n}`;

async function setupMany(from: number, to: number) {
  const q = Array.from({ length: to - from }, (_, i) => from + i);
  const w = async () => {
    for (let n = q.shift(); n !== undefined; n = q.shift()) {
      await setupEnvNetwork(cfg, { id: id(n), slot: n, egress: { mode: "all" } }, over);
    }
  };
  await Promise.all(Array.from({ length: 8 }, w));
}

// The same environment made the usual way: one process per step.
async function baselineSetup(n: number, nc: { resolverIp: string; table: string }) {
  const ns = baseNs(n);
  const ip = envAddress(await nconf(), n);
  const hif = hostIfName(id(n));
  await run("ip", ["netns", "add", ns]);
  await run("ip", ["link", "add", hif, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  await run("ip", ["link", "set", hif, "up"]);
  await run("ip", ["route", "add", `${ip}/32`, "dev", hif, "src", nc.resolverIp]);
  await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  await run("ip", ["-n", ns, "addr", "add", `${ip}/32`, "dev", "eth0"]);
  await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
  await run("ip", ["-n", ns, "route", "add", "default", "via", nc.resolverIp, "dev", "eth0", "onlink"]);
  await run("nft", ["add", "element", "inet", nc.table, "env_src", `{ "${hif}" . ${ip} }`]);
  await run("nft", ["add", "element", "arp", nc.table, "env_arp", `{ "${hif}" . ${ip} }`]);
}
async function baselineTeardown(n: number, nc: { table: string }) {
  const ip = envAddress(await nconf(), n);
  const hif = hostIfName(id(n));
  await run("ip", ["link", "del", hif]); // serial veth delete, as such scripts do
  await run("ip", ["netns", "del", baseNs(n)]);
  await run("nft", ["delete", "element", "inet", nc.table, "env_src", `{ "${hif}" . ${ip} }`]);
  await run("nft", ["delete", "element", "arp", nc.table, "env_arp", `{ "${hif}" . ${ip} }`]);
}
const nconf = async () => networkConfig(cfg, over);

const rows: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const record = (present: number, name: string, xs: number[]) => {
  const r = { present, name, n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) };
  rows.push(r);
  results.push(r);
};

try {
  const nc = await ensureHostNetwork(cfg, over);
  let present = 0;
  const probe = 3000; // slots used for measured environments, above the preset ones
  for (const target of [10, 100, 1000]) {
    await setupMany(present, target);
    present = target;
    const setup: number[] = [];
    const teardown: number[] = [];
    const nft: number[] = [];
    const bSetup: number[] = [];
    const bTeardown: number[] = [];
    // The nft change alone, first and after a pause: the kernel frees torn-down namespaces in
    // a background worker, which would otherwise be measured along with nft.
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < SAMPLES; i++) {
      const n = probe + i;
      const el = { hostIf: hostIfName(id(n)), ip: envAddress(nc, n), egress: { mode: "none" as const } };
      nft.push(await timeMs(() => applyNft(syncElements(nc, [], el), "bench", nc.helper)));
      await applyNft(syncElements(nc, [el], null), "bench", nc.helper);
    }
    for (let i = 0; i < SAMPLES; i++) {
      const n = probe + i;
      setup.push(
        await timeMs(() => setupEnvNetwork(cfg, { id: id(n), slot: n, egress: { mode: "all" } }, over)),
      );
      teardown.push(await timeMs(() => teardownEnvNetwork(cfg, id(n), n, over)));
    }
    // The same set-up with both commands spawned from this process, as before warren-netd.
    const spawned: number[] = [];
    process.env["WARREN_NETD"] = "off";
    for (let i = 0; i < SAMPLES; i++) {
      const n = probe + i;
      spawned.push(
        await timeMs(() => setupEnvNetwork(cfg, { id: id(n), slot: n, egress: { mode: "all" } }, over)),
      );
      await teardownEnvNetwork(cfg, id(n), n, over);
    }
    delete process.env["WARREN_NETD"];
    for (let i = 0; i < Math.min(SAMPLES, 20); i++) {
      const n = probe + 100 + i;
      bSetup.push(await timeMs(() => baselineSetup(n, nc)));
      bTeardown.push(await timeMs(() => baselineTeardown(n, nc)));
    }
    record(present, "warren setup", setup);
    record(present, "warren teardown", teardown);
    record(present, "setup, spawned (no warren-netd)", spawned);
    record(present, "nft change (1 env)", nft);
    record(present, "ip+nft cmds setup", bSetup);
    record(present, "ip+nft cmds teardown", bTeardown);
  }
  const t0 = performance.now();
  await teardownEnvNetworks(
    cfg,
    Array.from({ length: present }, (_, n) => ({ id: id(n), slot: n })),
    over,
  );
  const batchMs = performance.now() - t0;
  rows.push({ present, name: `batched teardown of all ${present}`, n: 1, p50: batchMs, p99: batchMs });
  printTable("network set-up and teardown, ms (pinned to CPU 1)", rows);
  const nftAt = (p: number) => results.find((r) => r["present"] === p && r["name"] === "nft change (1 env)")!;
  const ratio = (nftAt(1000)["p50"] as number) / (nftAt(10)["p50"] as number);
  const setupP50 = Math.max(
    ...results.filter((r) => r["name"] === "warren setup").map((r) => r["p50"] as number),
  );
  console.log(`\nsetup p50 (worst of 10/100/1000): ${setupP50.toFixed(2)} ms (target <= 10)`);
  console.log(`nft change p50 at 1000 / at 10: ${ratio.toFixed(2)}x (target <= 1.5)`);
  console.log(
    `wrote ${writeResults("netsetup", { samples: SAMPLES, loadavg: os.loadavg(), rows: results, batchTeardownMs: batchMs, nftRatio: ratio })}`,
  );
} finally {
  for (let i = 0; i < 20; i++) {
    await run("ip", ["netns", "del", baseNs(3100 + i)], { allowFail: true });
    await run("ip", ["link", "del", hostIfName(id(3100 + i))], { allowFail: true });
  }
  await removeHostNetwork(cfg, over).catch((e) => console.error(e));
  rmSync(dir, { recursive: true, force: true });
}
