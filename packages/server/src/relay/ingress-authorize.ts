// The holding replica's own decision on an ingress call another replica relayed
// (relay/ingress-wire.ts). The relaying replica only says who the caller is; everything they may
// do is read here, from the store, with the same rules its own ingress applies:
// - an SSH login: the key is still registered to that user in that organisation, the user is
//   still a member (their role read now, as services/ssh-logins.ts does at a login), and then the
//   environment services decide with that actor (exec's rules: owner or admin; it must run);
// - a port proxy dial: the port's visibility and the organisation's policy now
//   (services/ports.ts), and, unless the port is public, the credential behind the session (token
//   neither revoked nor expired, still the member's: services/credential-check.ts) and whether
//   that visibility admits the user (ingress/port-sessions.ts `admits`, as the proxy decides).
// A refusal says why, to the relaying replica's log and its caller; never more than the caller's
// own ingress would have told them.
import { WarrenError } from "@warren/protocol";
import type { ProxyPorts } from "../ingress/http-proxy-contracts.ts";
import { admits } from "../ingress/port-sessions.ts";
import type { UserActor } from "../services/actor.ts";
import type { CredentialCheck } from "../services/live-sessions.ts";
import type { PortTargetLookup } from "../services/port-targets.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { getRole } from "../store/queries/identity.ts";
import { getSshKey } from "../store/queries/ssh-keys.ts";
import type { IngressCaller } from "./ingress-wire.ts";

export interface IngressAuthDeps {
  db: Queryable;
  credentials: CredentialCheck;
  ports: ProxyPorts;
  targets: PortTargetLookup;
}

/** The SSH login's user as the services see them, read again from the store. */
export async function sshActorFor(d: IngressAuthDeps, caller: IngressCaller): Promise<UserActor> {
  if (caller.kind !== "user" || caller.sshKeyId === undefined) {
    throw new WarrenError(
      "UNAUTHENTICATED",
      "a relayed SSH call must name the user and the key they logged in with",
    );
  }
  const key = await getSshKey(d.db, caller.orgId, caller.sshKeyId);
  if (!key || key.user_id !== caller.userId) {
    throw new WarrenError(
      "UNAUTHENTICATED",
      `SSH key ${caller.sshKeyId} is not registered to that user in that organisation (any more)`,
    );
  }
  const role = await getRole(d.db, caller.orgId, caller.userId);
  if (!role) {
    throw new WarrenError(
      "UNAUTHENTICATED",
      `the key's user is not a member of organisation ${caller.orgId}`,
    );
  }
  return { kind: "user", userId: caller.userId, orgId: caller.orgId, role, via: "token" };
}

/** Refuses unless the port proxy would let this caller reach `port` of the environment now. */
export async function checkProxyDial(
  d: IngressAuthDeps,
  caller: IngressCaller,
  envId: string,
  port: number,
): Promise<void> {
  const target = await d.targets.resolve({ env: envId });
  if (!target) throw new WarrenError("ENV_NOT_FOUND", `no environment has id ${envId}`);
  const visibility = await d.ports.visibility(envId, port);
  if (visibility === "public") {
    if (await d.ports.publicAllowed(target.orgId)) return;
    throw new WarrenError("FORBIDDEN", `organisation ${target.orgId} does not allow public ports`);
  }
  if (caller.kind !== "user") {
    throw new WarrenError(
      "UNAUTHENTICATED",
      `port ${port} is ${visibility}: only a signed-in visitor reaches it`,
    );
  }
  const [verdict] = await d.credentials([
    {
      orgId: caller.orgId,
      userId: caller.userId,
      ...(caller.tokenId !== undefined ? { tokenId: caller.tokenId } : {}),
    },
  ]);
  if (!verdict?.ok) {
    const end = verdict?.end;
    throw new WarrenError(
      end?.code ?? "UNAUTHENTICATED",
      end?.message ?? "the visitor's credential is not valid",
    );
  }
  if (!admits(visibility, caller, { envOrgId: target.orgId, ownerId: target.ownerId })) {
    // As the proxy answers a visitor the port does not admit: the same as a port that does not exist.
    throw new WarrenError(
      "ENV_NOT_FOUND",
      `port ${port} of environment ${envId} is not open to this visitor`,
    );
  }
}
