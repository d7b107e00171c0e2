// Finds every environment id that has anything on this host (dirs, runtime records, cgroups,
// loop devices). Ids the control plane does not know are half-made leftovers and are removed.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { ID_RE } from "../host/names.ts";
import { listEnvNetworks } from "../network/index.ts";
import { listWarrenLoops } from "../storage/disk.ts";
import type { EngineContext } from "./context.ts";

export async function idsOnHost(ctx: EngineContext): Promise<Set<string>> {
  const { cfg } = ctx;
  const ids = new Set<string>();
  const strip = (name: string) =>
    name.startsWith(`${cfg.prefix}-`) ? name.slice(cfg.prefix.length + 1) : "";
  const add = (id: string) => {
    if (ID_RE.test(id)) ids.add(id);
  };
  for (const d of await readdir(path.join(cfg.root, "envs")).catch(() => [] as string[])) add(d);
  for (const rt of ctx.runtimes.values()) {
    for (const cid of await rt.list().catch(() => [] as string[])) add(strip(cid));
  }
  for (const g of await ctx.cgroups.listUnder(cfg.prefix).catch(() => [] as string[])) add(strip(g));
  for (const n of listEnvNetworks(cfg)) add(n);
  for (const l of await listWarrenLoops(cfg).catch(() => [])) {
    add(path.basename(path.dirname(l.backingFile)));
  }
  return ids;
}
