// The host half of Warren's networking, made once per runner start and idempotent: the
// resolver's address on `<prefix>0`, a blackhole for the rest of the subnet, IPv4 forwarding,
// a shared mount for the netns files, and the nftables tables. `removeHostNetwork` undoes all
// of it (forwarding stays on: other software on the host may rely on it).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { ID_RE } from "../host/names.ts";
import { run } from "../host/run.ts";
import { isMountPoint } from "../storage/mountinfo.ts";
import { type NetworkOverrides, netnsPath, networkConfig } from "./addr.ts";
import { applyNft } from "./nft.ts";
import { hostRuleset, removeRuleset } from "./nft-rules.ts";
import type { NetworkConfig } from "./types.ts";

async function linkExists(name: string): Promise<boolean> {
  return (await run("ip", ["link", "show", "dev", name], { allowFail: true })).code === 0;
}

// A dummy link is the natural home for a local address; kernels built without CONFIG_DUMMY
// (like this project's CI hosts) get a port-less bridge, which behaves the same for this.
async function ensureLink(name: string): Promise<void> {
  if (await linkExists(name)) return;
  const dummy = await run("ip", ["link", "add", "name", name, "type", "dummy"], { allowFail: true });
  if (dummy.code === 0) return;
  if (!/unknown device type|not supported/i.test(dummy.stderr)) {
    throw new Error(`ip link add ${name} type dummy: ${dummy.stderr.trim()}`);
  }
  await run("ip", ["link", "add", "name", name, "type", "bridge"]);
}

export async function ensureHostNetwork(
  cfg: RunnerConfig,
  over: NetworkOverrides = {},
): Promise<NetworkConfig> {
  const nc = networkConfig(cfg, over);
  try {
    mkdirSync(nc.netnsDir, { recursive: true });
    mkdirSync(nc.stateDir, { recursive: true });
    // As iproute2 does for /run/netns: a shared mount, so unmounting a netns file here also
    // unmounts the copies that mount namespaces created meanwhile hold (they would pin it).
    if (!isMountPoint(nc.netnsDir)) {
      await run("mount", ["--bind", nc.netnsDir, nc.netnsDir]);
      await run("mount", ["--make-shared", nc.netnsDir]);
    }
    await ensureLink(nc.hostLink);
    // The host side of the link gets no IPv6: it only carries the resolver's IPv4 address.
    writeFileSync(`/proc/sys/net/ipv6/conf/${nc.hostLink}/disable_ipv6`, "1");
    await run("ip", ["addr", "replace", `${nc.resolverIp}/32`, "dev", nc.hostLink]);
    await run("ip", ["link", "set", nc.hostLink, "up"]);
    // Unassigned addresses of the subnet go nowhere (each environment has a more specific /32).
    await run("ip", ["route", "replace", "blackhole", nc.subnet, "proto", "static"]);
    // Needed to route (and NAT) environment traffic at all.
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    await applyNft(hostRuleset(nc), "nft host tables");
  } catch (err) {
    throw wrap("ensure host network", err);
  }
  return nc;
}

/** Ids that still have a netns file (for sweeping orphans after a crash). */
export function listEnvNetworks(cfg: RunnerConfig, over: NetworkOverrides = {}): string[] {
  const nc = networkConfig(cfg, over);
  try {
    return readdirSync(nc.netnsDir).filter((f) => ID_RE.test(f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

export async function removeHostNetwork(cfg: RunnerConfig, over: NetworkOverrides = {}): Promise<void> {
  const nc = networkConfig(cfg, over);
  try {
    const left = listEnvNetworks(cfg, over).map((id) => netnsPath(nc, id));
    if (left.length) await run(nc.helper, ["del", ...left]);
    await applyNft(removeRuleset(nc), "nft delete tables");
    if (await linkExists(nc.hostLink)) await run("ip", ["link", "del", nc.hostLink]);
    await run("ip", ["route", "del", "blackhole", nc.subnet], { allowFail: true });
    if (isMountPoint(nc.netnsDir)) await run("umount", ["--lazy", nc.netnsDir]);
    rmSync(nc.netnsDir, { recursive: true, force: true });
    rmSync(nc.stateDir, { recursive: true, force: true });
  } catch (err) {
    throw wrap("remove host network", err);
  }
}
