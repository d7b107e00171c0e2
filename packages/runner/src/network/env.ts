// One environment's network: the netns, veth pair and routes (native helper, batched netlink)
// and its nft set elements (one nft transaction), done side by side, both started by the
// long-lived warren-netd rather than spawned from the runner (netd.ts). Both halves are
// idempotent, so set-up and teardown can be retried after a crash at any point.
//
// Ordering needs no care for safety: the helper puts the host veth in the runner's interface
// group at creation, and the firewall drops everything from a group member whose (veth,
// address) pair is not registered. Nothing runs in the netns until set-up returns.
import { wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { envAddress, hostIfName, type NetworkOverrides, netnsPath, networkConfig } from "./addr.ts";
import { readEnvState, removeEnvState, uniqueElements, writeEnvState } from "./env-state.ts";
import { runNet } from "./netd.ts";
import { applyNft, nftListJson } from "./nft.ts";
import { type EnvElements, syncElements } from "./nft-elements.ts";
import type { EnvNetwork, EnvNetworkSpec, NetworkConfig } from "./types.ts";

export async function setupEnvNetwork(
  cfg: RunnerConfig,
  spec: EnvNetworkSpec,
  over: NetworkOverrides = {},
): Promise<EnvNetwork> {
  const nc = networkConfig(cfg, over);
  const ip = envAddress(nc, spec.slot);
  const hostIf = hostIfName(spec.id);
  const nsPath = netnsPath(nc, spec.id);
  const next: EnvElements = { hostIf, ip, egress: spec.egress };
  try {
    const prev = readEnvState(nc, spec.id)?.owned ?? [];
    writeEnvState(nc, spec.id, { slot: spec.slot, owned: uniqueElements([...prev, next]) });
    const netns = async () => {
      const pid = await spec.pid;
      return runNet("net", nc.helper, [
        "add",
        nsPath,
        hostIf,
        ip,
        nc.resolverIp,
        String(nc.ifGroup),
        ...(pid ? [String(pid)] : []),
      ]);
    };
    await Promise.all([netns(), applyNft(syncElements(nc, prev, next), "nft elements", nc.helper)]);
    writeEnvState(nc, spec.id, { slot: spec.slot, owned: [next] });
  } catch (err) {
    throw wrap(`network ${spec.id}`, err);
  }
  return { id: spec.id, slot: spec.slot, netnsPath: nsPath, ip, hostIf, resolverIp: nc.resolverIp };
}

export interface EnvNetworkRef {
  id: string;
  slot: number;
}

/**
 * Tears down many environments with one helper call and one nft transaction. Each netns file is
 * unmounted; its veth pair goes when the kernel frees the namespace (after the last process in
 * it exits), in the kernel's own batched cleanup.
 */
export async function teardownEnvNetworks(
  cfg: RunnerConfig,
  refs: EnvNetworkRef[],
  over: NetworkOverrides = {},
): Promise<void> {
  if (refs.length === 0) return;
  const nc = networkConfig(cfg, over);
  try {
    await runNet("net", nc.helper, ["del", ...refs.map((r) => netnsPath(nc, r.id))]);
    let listed: Map<string, string[]> | undefined;
    const scripts: string[] = [];
    for (const r of refs) {
      let owned = readEnvState(nc, r.id)?.owned;
      if (!owned) {
        // No record (lost runDir, or set-up never got that far): take out whatever the slot's
        // address could own. Only the allow-list needs a look at the set to know its CIDRs.
        listed ??= await allowListByEnv(nc);
        const ip = envAddress(nc, r.slot);
        const hostIf = hostIfName(r.id);
        owned = [
          { hostIf, ip, egress: { mode: "none" } },
          { hostIf, ip, egress: { mode: "allow", cidrs: listed.get(ip) ?? [] } },
        ];
      }
      scripts.push(syncElements(nc, owned, null));
    }
    await applyNft(scripts.join(""), "nft elements", nc.helper);
    for (const r of refs) removeEnvState(nc, r.id);
  } catch (err) {
    const what = refs.length === 1 ? `network ${refs[0]!.id}` : `network of ${refs.length} environments`;
    throw wrap(`teardown ${what}`, err);
  }
}

export function teardownEnvNetwork(
  cfg: RunnerConfig,
  id: string,
  slot: number,
  over: NetworkOverrides = {},
): Promise<void> {
  return teardownEnvNetworks(cfg, [{ id, slot }], over);
}

type Jv = string | { prefix?: { addr: string; len: number } };

/** env address -> allow-listed CIDRs, read back from the kernel. */
async function allowListByEnv(nc: NetworkConfig): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const j = await nftListJson(["set", "inet", nc.table, "egress_allow"]);
  for (const o of j?.nftables ?? []) {
    const set = o["set"] as { elem?: { concat?: Jv[] }[] } | undefined;
    for (const el of set?.elem ?? []) {
      const [env, dst] = el.concat ?? [];
      if (typeof env !== "string" || dst === undefined) continue;
      const cidr =
        typeof dst === "string" ? `${dst}/32` : dst.prefix ? `${dst.prefix.addr}/${dst.prefix.len}` : null;
      if (cidr) out.set(env, [...(out.get(env) ?? []), cidr]);
    }
  }
  return out;
}
