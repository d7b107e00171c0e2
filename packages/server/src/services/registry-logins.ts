// Registry logins: stored encrypted in the control plane's database and handed to the runner
// with each pull for that registry host only, so runners keep no secrets. Passwords never
// leave this service except to the runner; list() returns hosts and usernames only.
//
// Each login belongs to one organisation (migration 010): the acting user's, or the bootstrap
// organisation's when the system acts (services/scope.ts nameOrg). Two organisations may each keep a login
// for the same host; a pull for one never sees the other's. Admins store and remove them.
import {
  normalizeRegistryHost,
  type RegistryCredential,
  type RegistryLogin,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import {
  deleteRegistryCredential,
  getRegistryCredential,
  listRegistryCredentials,
  upsertRegistryCredential,
} from "../store/queries/registry-credentials.ts";
import { type Actor, requireActor } from "./actor.ts";
import type { SecretBox } from "./registry-secrets.ts";
import { nameOrg, requireAdmin } from "./scope.ts";

export interface RegistryLoginService {
  list(a: Actor): Promise<RegistryLogin[]>;
  login(a: Actor, host: string, username: string, password: string): Promise<RegistryLogin>;
  /** True when a login was removed. */
  logout(a: Actor, host: string): Promise<boolean>;
  /**
   * The login of the actor's organisation for a registry host, decrypted, for a pull. Only the
   * system may name another organisation (`orgId`).
   */
  credentialFor(a: Actor, host: string, orgId?: string): Promise<RegistryCredential | undefined>;
}

/** The organisation whose login is read: the actor's own, or any one the system names. */
function credentialOrg(a: Actor, orgId: string | undefined): string {
  const actor = requireActor(a, "reading a registry login");
  if (orgId === undefined || actor.kind === "system") return orgId ?? nameOrg(actor);
  if (orgId !== actor.orgId) {
    throw new WarrenError("FORBIDDEN", "a registry login is read only for the caller's own organisation");
  }
  return orgId;
}

export function createRegistryLoginService(o: {
  db: Db;
  clock: Clock;
  secrets: SecretBox;
}): RegistryLoginService {
  const toLogin = (r: { host: string; username: string; created_at: string; updated_at: string }) => ({
    host: r.host,
    username: r.username,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
  return {
    list: async (a) => (await listRegistryCredentials(o.db, nameOrg(a))).map(toLogin),
    async login(a, rawHost, username, password) {
      // A login serves every pull of the organisation: admins set it (members use it).
      requireAdmin(a, "storing a registry login");
      const host = normalizeRegistryHost(rawHost);
      if (username.length === 0 || username.length > 255 || /[:\s]/.test(username)) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "the username must be 1-255 characters without ':' or spaces",
          {
            field: "username",
          },
        );
      }
      if (password.length === 0 || password.length > 4096) {
        throw new WarrenError("INVALID_ARGUMENT", "the password must be 1-4096 characters", {
          field: "password",
        });
      }
      const now = isoNow(o.clock);
      const org = nameOrg(a);
      const existing = await getRegistryCredential(o.db, org, host);
      const row = {
        org_id: org,
        host,
        username,
        secret: await o.secrets.seal(password, host),
        created_at: existing?.created_at ?? now,
        updated_at: now,
      };
      await upsertRegistryCredential(o.db, row);
      return toLogin(row);
    },
    async logout(a, host) {
      requireAdmin(a, "removing a registry login");
      return deleteRegistryCredential(o.db, nameOrg(a), normalizeRegistryHost(host));
    },
    async credentialFor(a, host, orgId) {
      const org = credentialOrg(a, orgId);
      const row = await getRegistryCredential(o.db, org, normalizeRegistryHost(host));
      if (!row) return undefined;
      return { username: row.username, password: await o.secrets.open(row.secret, row.host) };
    },
  };
}
