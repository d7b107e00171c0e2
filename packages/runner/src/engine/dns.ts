// The runner's resolver, bound to the resolver address every environment can reach. It answers
// an environment's own name from a table the engine keeps (address -> name), so queries never
// read handles from disk.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { createResolver, type Resolver } from "../dns/index.ts";
import type { RunnerConfig } from "../host/config.ts";
import { envAddress } from "../network/index.ts";
import type { NetworkConfig } from "../network/types.ts";
import { readHandle } from "../state/handle.ts";

export const DEFAULT_ZONE = "warren.internal";

export class OwnNames {
  readonly #byIp = new Map<string, string>();
  readonly #nc: NetworkConfig;
  constructor(nc: NetworkConfig) {
    this.#nc = nc;
  }
  set(slot: number, name: string): void {
    this.#byIp.set(envAddress(this.#nc, slot), name);
  }
  delete(slot: number): void {
    this.#byIp.delete(envAddress(this.#nc, slot));
  }
  lookup(ip: string): { name: string; ip: string } | undefined {
    const name = this.#byIp.get(ip);
    return name ? { name, ip } : undefined;
  }
  /** After a restart: every environment with a handle on this host. */
  async load(cfg: RunnerConfig): Promise<void> {
    const dir = path.join(cfg.root, "envs");
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      const h = await readHandle(path.join(dir, id, "handle.json")).catch(() => null);
      if (h) this.set(h.spec.slot, h.spec.name);
    }
  }
}

export async function startResolver(
  cfg: RunnerConfig,
  nc: NetworkConfig,
  names: OwnNames,
): Promise<Resolver> {
  const upstreams = process.env["WARREN_DNS_UPSTREAMS"]?.split(",").filter(Boolean);
  const resolver = createResolver({
    listen: [{ host: nc.resolverIp, port: Number(process.env["WARREN_DNS_PORT"] ?? 53) }],
    zone: process.env["WARREN_DNS_ZONE"] ?? DEFAULT_ZONE,
    ownName: (ip) => names.lookup(ip),
    ...(upstreams?.length ? { upstreams } : {}),
  });
  await names.load(cfg);
  await resolver.start();
  return resolver;
}
