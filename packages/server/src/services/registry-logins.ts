// Registry logins: stored encrypted in the control plane's database and handed to the runner
// with each pull for that registry host only, so runners keep no secrets. Passwords never
// leave this service except to the runner; list() returns hosts and usernames only.
//
// Each login belongs to one organisation (migration 010): the caller's (services/identity.ts),
// or the bootstrap organisation's when the system acts. Two organisations may each keep a login
// for the same host; a pull for one never sees the other's. Admins store and remove them.
import {
  normalizeRegistryHost,
  type RegistryCredential,
  type RegistryLogin,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import {
  deleteRegistryCredential,
  getRegistryCredential,
  listRegistryCredentials,
  upsertRegistryCredential,
} from "../store/queries/registry-credentials.ts";
import type { SecretBox } from "./registry-secrets.ts";
import { callerOrg, requireAdmin } from "./scope.ts";

export interface RegistryLoginService {
  list(): Promise<RegistryLogin[]>;
  login(host: string, username: string, password: string): Promise<RegistryLogin>;
  /** True when a login was removed. */
  logout(host: string): Promise<boolean>;
  /** The login of `orgId` (default: the caller's organisation) for a registry host, decrypted, for a pull. */
  credentialFor(host: string, orgId?: string): Promise<RegistryCredential | undefined>;
}

const orgOf = (): string => callerOrg() ?? BOOTSTRAP_ORG_ID;

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
    list: async () => (await listRegistryCredentials(o.db, orgOf())).map(toLogin),
    async login(rawHost, username, password) {
      // A login serves every pull of the organisation: admins set it (members use it).
      requireAdmin("storing a registry login");
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
      const org = orgOf();
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
    async logout(host) {
      requireAdmin("removing a registry login");
      return deleteRegistryCredential(o.db, orgOf(), normalizeRegistryHost(host));
    },
    async credentialFor(host, orgId) {
      const row = await getRegistryCredential(o.db, orgId ?? orgOf(), normalizeRegistryHost(host));
      if (!row) return undefined;
      return { username: row.username, password: await o.secrets.open(row.secret, row.host) };
    },
  };
}
