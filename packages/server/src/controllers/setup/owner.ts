// The environment's owner as an actor: the setup controller pulls images and reads registry
// logins for the owner's organisation, never with the system's reach.
import type { UserActor } from "../../services/actor.ts";
import type { EnvRow } from "../../store/queries/envs.ts";

export function ownerActor(row: EnvRow): UserActor {
  const o = row as EnvRow & { org_id?: string; owner_id?: string };
  return { kind: "user", userId: o.owner_id ?? "", orgId: o.org_id ?? "", role: "member", via: "token" };
}
