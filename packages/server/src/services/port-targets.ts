// The environment a port URL names (ingress/port-host.ts), for the port proxy. No actor: whether
// the visitor may reach it is decided afterwards, per port, by the port's visibility and the
// visitor's session (ingress/port-auth.ts). What this returns is therefore never shown to the
// visitor; an unknown name gets the same answer as one they may not see.
import type { Db } from "../store/db.ts";
import { getEnvById, getEnvByName } from "../store/queries/envs.ts";
import { getOrg } from "../store/queries/identity.ts";
import { ownershipOf } from "./scope.ts";

export interface PortTarget {
  envId: string;
  envName: string;
  orgId: string;
  orgName: string;
  ownerId: string;
  /** Running now and meant to be: a request can be forwarded without waking it. */
  running: boolean;
}

export interface PortTargetLookup {
  /** By `env` + `org` name (the readable form) or by environment id alone (the id form). */
  resolve(ref: { env: string; org?: string }): Promise<PortTarget | undefined>;
}

export function createPortTargetLookup(d: { db: Db }): PortTargetLookup {
  return {
    async resolve(ref) {
      let orgName: string | undefined;
      let row: Awaited<ReturnType<typeof getEnvById>>;
      if (ref.org !== undefined) {
        const org = await getOrg(d.db, ref.org);
        // getOrg also matches ids; the host names organisations by name only.
        if (!org || org.name !== ref.org) return undefined;
        orgName = org.name;
        row = await getEnvByName(d.db, ref.env, org.id);
      } else {
        row = await getEnvById(d.db, ref.env);
      }
      if (!row) return undefined;
      const own = ownershipOf(row);
      orgName ??= (await getOrg(d.db, own.org_id))?.name ?? own.org_id;
      return {
        envId: row.id,
        envName: row.name,
        orgId: own.org_id,
        orgName,
        ownerId: own.owner_id,
        running: row.desired === "running" && row.state === "running",
      };
    },
  };
}
