// Which ingress streams are relayed, on the replica the caller reached: an SSH login's exec and
// dial (shell, commands, sftp, `-L`, streamlocal, agent forwarding all go through those two) and
// the port proxy's upstream dials, for an environment whose runner another live replica holds.
// The caller was authenticated here as usual (the SSH key's signature, the port session's cookie);
// the holder is told who they are and decides again itself (relay/ingress-authorize.ts).
// Anything else (this replica holds the runner, or nobody does) stays local, which is today's
// behaviour: the local call, or its 503 when no replica holds the runner.
import type { Duplex } from "node:stream";
import type { Dial } from "../ingress/http-proxy-upstream.ts";
import type { SshLogin } from "../ingress/ssh-auth.ts";
import type { SshEnvTarget } from "../ingress/ssh-context.ts";
import type { Ownership } from "../runners/hub.ts";
import type { Actor } from "../services/actor.ts";
import { type IngressPeer, relayDial, relayExec } from "./ingress-client.ts";
import type { IngressCall, IngressCaller } from "./ingress-wire.ts";
import type { RelayRouting } from "./relay-hook.ts";
import { peerHoldingEnv } from "./replicas.ts";

export interface IngressRelay {
  /** The port proxy's dial, relayed when another replica holds the environment's runner. */
  proxyDial(local: Dial): Dial;
  /** An SSH login's target whose exec and dial are relayed likewise. */
  sshTarget(local: SshEnvTarget, login: SshLogin): SshEnvTarget;
}

/** Who a proxy dial is for: the signed-in visitor and the token behind their session, or nobody. */
export function proxyCaller(visitor: Actor | undefined): IngressCaller {
  if (visitor?.kind !== "user") return { kind: "anonymous" };
  return {
    kind: "user",
    userId: visitor.userId,
    orgId: visitor.orgId,
    ...(visitor.tokenId !== undefined ? { tokenId: visitor.tokenId } : {}),
  };
}

export function createIngressRelay(o: {
  routing: RelayRouting;
  ownership(envId: string): Promise<Ownership>;
}): IngressRelay {
  const r = o.routing;
  const now = r.now ?? (() => new Date());
  /** The replica to relay to, or undefined to call locally. */
  const peerFor = async (envId: string): Promise<IngressPeer | undefined> => {
    const own = await o.ownership(envId).catch(() => "none" as const);
    if (own !== "elsewhere") return undefined;
    const peer = await peerHoldingEnv(r.db, envId, r.selfId, now());
    return peer && { peer, tls: r.tls, selfId: r.selfId };
  };
  const dialVia = async (envId: string, call: IngressCall, local: () => Promise<Duplex>) => {
    const p = await peerFor(envId);
    return p ? relayDial(p, call) : local();
  };

  return {
    proxyDial: (local) => (envId, port, visitor) =>
      dialVia(envId, { caller: proxyCaller(visitor), envId, via: "proxy", port }, () =>
        local(envId, port, visitor),
      ),

    sshTarget(local, login) {
      const caller: IngressCaller = {
        kind: "user",
        userId: login.actor.userId,
        orgId: login.actor.orgId,
        sshKeyId: login.keyId,
      };
      const envId = local.envId;
      return {
        ...local,
        async exec(req, h) {
          const p = await peerFor(envId);
          return p ? relayExec(p, { caller, envId, via: "ssh" }, req, h) : local.exec(req, h);
        },
        dial: (port, host) =>
          dialVia(envId, { caller, envId, via: "ssh", port, ...(host !== undefined ? { host } : {}) }, () =>
            local.dial(port, host),
          ),
      };
    },
  };
}
