// Who an SSH login's public key speaks for. A key is registered per user and organisation
// (services/ssh-keys.ts), and one key may be registered by the same person in several
// organisations; each registration whose user is still a member is one candidate actor, with the
// role read now (a demotion takes effect at the next login, as for tokens).
//
// Only the system asks (the SSH gateway, before anyone is authenticated).
import type { Role } from "@warren/protocol";
import type { Db } from "../store/db.ts";
import { getOrg, getRole } from "../store/queries/identity.ts";
import { sshKeysByFingerprint } from "../store/queries/ssh-keys.ts";
import type { Actor, UserActor } from "./actor.ts";
import { requireSystem } from "./scope.ts";

export interface SshLoginCandidate {
  keyId: string;
  /** "TYPE BASE64" as registered: what the login's signature is checked against. */
  publicKey: string;
  orgName: string;
  /**
   * The user as the services see them. `via: "token"` with no tokenId: the login carries no API
   * token, so its live session ends on membership removal (and, by key id, on key removal).
   */
  actor: UserActor;
}

export interface SshLoginService {
  /** Every current registration of the key with that fingerprint, in any organisation. */
  candidates(a: Actor, fingerprint: string): Promise<SshLoginCandidate[]>;
}

export function createSshLoginService(o: { db: Db }): SshLoginService {
  return {
    async candidates(a, fingerprint) {
      requireSystem(a, "resolving an SSH login");
      const out: SshLoginCandidate[] = [];
      for (const row of await sshKeysByFingerprint(o.db, fingerprint)) {
        const role: Role | undefined = await getRole(o.db, row.org_id, row.user_id);
        if (!role) continue; // the key's owner left the organisation: the key speaks for nobody there
        const org = await getOrg(o.db, row.org_id);
        if (!org) continue;
        out.push({
          keyId: row.id,
          publicKey: row.public_key,
          orgName: org.name,
          actor: { kind: "user", userId: row.user_id, orgId: row.org_id, role, via: "token" },
        });
      }
      return out;
    },
  };
}
