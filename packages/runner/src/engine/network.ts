// The environment's network, as the engine sees it: a prepared network namespace the runtime
// joins, and a resolv.conf that points at the runner's resolver with no search list.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_EGRESS, failpoint, type RunnerEnvSpec } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { readEnvState } from "../network/env-state.ts";
import { networkConfig, setupEnvNetwork, teardownEnvNetwork } from "../network/index.ts";
import type { EnvNetwork } from "../network/types.ts";
import type { EngineContext } from "./context.ts";

/** ndots:1 and no search list: a bare name is never retried under other domains. */
export function resolvConf(resolverIp: string): string {
  return `nameserver ${resolverIp}\noptions ndots:1\n`;
}

/** Before the container exists: the resolv.conf it will bind-mount. */
export async function writeResolvConf(ctx: EngineContext, id: string): Promise<void> {
  const etc = path.join(hostNames(ctx.cfg, id).envDir, "etc");
  await writeFile(path.join(etc, "resolv.conf"), resolvConf(networkConfig(ctx.cfg).resolverIp));
}

/**
 * Around `create`, before `start`: wires the network namespace the runtime made for init (owned
 * by the environment's user namespace) to the host: veth, routes, nft set elements.
 */
export async function attachNetwork(
  ctx: EngineContext,
  spec: RunnerEnvSpec,
  initPid: number | Promise<number>,
): Promise<EnvNetwork> {
  const pid = Promise.resolve(initPid).then((p) => {
    // Without init there is no namespace to adopt; the helper would make a host-owned one.
    if (!p) throw new Error("the container has no init pid");
    failpoint("net-setup");
    return p;
  });
  // The caller sees a failed create itself; a set-up that ends before awaiting pid must not
  // leave its rejection unhandled.
  pid.catch(() => undefined);
  return setupEnvNetwork(ctx.cfg, {
    id: spec.id,
    slot: spec.slot,
    egress: spec.egress ?? DEFAULT_EGRESS,
    // The firewall elements need no process and go in at once; the namespace waits for init.
    pid,
  });
}

/** After the container's processes are gone. `slot` may be unknown for a half-made environment. */
export async function removeNetwork(ctx: EngineContext, id: string, slot: number | undefined): Promise<void> {
  const known = slot ?? readEnvState(networkConfig(ctx.cfg), id)?.slot;
  if (known === undefined) return;
  await teardownEnvNetwork(ctx.cfg, id, known);
}
