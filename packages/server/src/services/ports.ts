// Port visibility: who may reach each port of an environment through the port proxy, and what
// listens there. A port nobody set is private (its owner only); `org` opens it to the
// organisation's members; `public` to anyone, and only where the organisation allows public ports
// (`warren quota set --public-ports allow`; default deny).
//
// Who may change a port is who may exec in the environment: its owner and the organisation's
// admins (services/scope.ts); anyone else gets ENV_NOT_FOUND, the same as for an unknown name.
//
// A port made stricter fires onTightened synchronously, after the write, so the sign-in sessions
// on it (ingress/port-sessions.ts) end at once. Other replicas learn of it through `publish` when
// the daemon wires one (store/pg-change-bus.ts); the proxy also re-reads the visibility on every
// request, so a new request is judged by the new visibility on every replica either way.
import {
  type EnvPort,
  type EnvPortList,
  PORT_VISIBILITIES,
  type PortVisibility,
  type RunnerStreams,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { portUrl } from "../ingress/port-host.ts";
import type { Db } from "../store/db.ts";
import type { EnvRow } from "../store/queries/envs.ts";
import { getOrg } from "../store/queries/identity.ts";
import {
  getEnvPortRow,
  getPublicPortsPolicy,
  listEnvPortRows,
  upsertEnvPortRow,
} from "../store/queries/ports.ts";
import type { Actor } from "./actor.ts";
import { forwardedPortsOf } from "./port-labels.ts";
import { ownershipOf } from "./scope.ts";

export type { PortVisibility } from "@warren/protocol";

/** Where the port proxy serves port URLs (its --base-domain, scheme and listening port). */
export interface PortProxyAddress {
  scheme: "http" | "https";
  baseDomain: string;
  listenPort?: number;
}

export interface PortTightening {
  envId: string;
  port: number;
  visibility: PortVisibility;
}

export interface PortService {
  /** A port's visibility; "private" when nobody set one. No actor: the proxy asks for any visitor. */
  visibility(envId: string, port: number): Promise<PortVisibility>;
  /** Whether the organisation allows public ports (default: no). */
  publicAllowed(orgId: string): Promise<boolean>;
  /** Sets a port's visibility (the environment's owner or an admin); returns the port as listed. */
  set(a: Actor, env: string, port: number, v: PortVisibility): Promise<EnvPort>;
  /** Listening ports merged with stored visibilities, by port. */
  list(a: Actor, env: string): Promise<EnvPortList>;
  /** Called synchronously whenever a port becomes stricter (public -> org -> private). */
  onTightened(cb: (envId: string, port: number, v: PortVisibility) => void): void;
  /** A tightening made on another replica: tells this replica's listeners, and is not published again. */
  receiveTightened(t: PortTightening): void;
}

export interface PortServiceDeps {
  db: Db;
  clock: Clock;
  /** Resolves an environment as the actor sees it (ENV_NOT_FOUND for one they may not). */
  envs: { find(a: Actor, nameOrId: string): Promise<EnvRow> };
  /** Routes by environment (the hub in server mode, the Engine embedded). */
  runner: Pick<RunnerStreams, "listPorts">;
  /** Where the port proxy serves; undefined (or absent) while none listens: ports then have no URL. */
  proxy?: () => PortProxyAddress | undefined;
  /** Tells the other replicas of a tightening. */
  publish?: (t: PortTightening) => void;
  logger?: { warn(obj: object, msg: string): void };
}

/** How open each visibility is: a change to a lower rank is a tightening. */
const RANK: Record<PortVisibility, number> = { private: 0, org: 1, public: 2 };

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid port ${port}: a TCP port is a whole number from 1 to 65535`,
      {
        field: "port",
      },
    );
  }
  return port;
}

function checkVisibility(v: string): PortVisibility {
  if (!(PORT_VISIBILITIES as readonly string[]).includes(v)) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid visibility "${v}": use private, org or public`, {
      field: "visibility",
    });
  }
  return v as PortVisibility;
}

/** Who set it, as `port ls` and the audit trail name people. */
function actorName(a: Actor): string {
  if (a.kind === "system") return `system:${a.job}`;
  if (a.kind === "runner") return `runner:${a.tokenId}`;
  return a.via === "local-socket" ? "local-root" : a.userId;
}

export function createPortService(d: PortServiceDeps): PortService {
  const listeners: ((envId: string, port: number, v: PortVisibility) => void)[] = [];
  const tell = (t: PortTightening) => {
    for (const cb of listeners) {
      try {
        cb(t.envId, t.port, t.visibility);
      } catch (err) {
        d.logger?.warn({ err, ...t }, "a port-tightened listener failed");
      }
    }
  };

  const publicAllowed = async (orgId: string) => (await getPublicPortsPolicy(d.db, orgId)) === "allow";

  /** What listens in a running environment; `running: false` when it is not running. */
  async function detect(row: EnvRow, strict: boolean) {
    if (row.state !== "running") return { running: false, found: [] };
    try {
      return { running: true, found: await d.runner.listPorts(row.id) };
    } catch (err) {
      if (err instanceof WarrenError && err.code === "ENV_NOT_RUNNING") return { running: false, found: [] };
      if (strict) throw err;
      return { running: true, found: [] };
    }
  }

  async function listRow(row: EnvRow, strict: boolean): Promise<EnvPortList & { orgName: string }> {
    const own = ownershipOf(row);
    const [stored, detected, org, allowed] = await Promise.all([
      listEnvPortRows(d.db, row.id),
      detect(row, strict),
      getOrg(d.db, own.org_id),
      publicAllowed(own.org_id),
    ]);
    const orgName = org?.name ?? own.org_id;
    const proxy = d.proxy?.();
    const byPort = new Map<number, EnvPort>();
    const entry = (port: number): EnvPort => {
      let e = byPort.get(port);
      if (!e) {
        e = { port, listening: false, addresses: [], visibility: "private" };
        if (proxy) {
          e.url = portUrl({ ...proxy, port, envName: row.name, envId: row.id, orgName });
        }
        byPort.set(port, e);
      }
      return e;
    };
    for (const l of detected.found) {
      const e = entry(l.port);
      e.listening = true;
      if (!e.addresses.includes(l.address)) e.addresses.push(l.address);
      if (l.process && e.process === undefined) e.process = l.process;
    }
    for (const f of forwardedPortsOf(row)) {
      const e = entry(f.port);
      e.forwarded = true;
      if (f.label !== undefined) e.label = f.label;
    }
    for (const s of stored) {
      const e = entry(s.port);
      e.visibility = s.visibility;
      e.updatedAt = s.updated_at;
      e.updatedBy = s.updated_by;
    }
    const items = [...byPort.values()].sort((a, b) => a.port - b.port);
    return { items, running: detected.running, publicPorts: allowed ? "allow" : "deny", orgName };
  }

  return {
    async visibility(envId, port) {
      return (await getEnvPortRow(d.db, envId, port))?.visibility ?? "private";
    },
    publicAllowed,
    async list(a, env) {
      const { orgName: _o, ...out } = await listRow(await d.envs.find(a, env), true);
      return out;
    },
    async set(a, env, port, v) {
      const row = await d.envs.find(a, env);
      checkPort(port);
      const visibility = checkVisibility(v);
      const own = ownershipOf(row);
      if (visibility === "public" && !(await publicAllowed(own.org_id))) {
        const org = (await getOrg(d.db, own.org_id))?.name ?? own.org_id;
        throw new WarrenError(
          "PUBLIC_PORTS_DENIED",
          `organisation "${org}" does not allow public ports (policy public-ports: deny); an admin can allow them with \`warren quota set --public-ports allow\`, or share the port with the organisation: --visibility org`,
          { policy: "public-ports", port },
        );
      }
      const before = await d.db.transaction().execute(async (trx) => {
        const cur = (await getEnvPortRow(trx, row.id, port))?.visibility ?? "private";
        await upsertEnvPortRow(trx, {
          env_id: row.id,
          port,
          visibility,
          updated_at: isoNow(d.clock),
          updated_by: actorName(a),
        });
        return cur;
      });
      if (RANK[visibility] < RANK[before]) {
        const t = { envId: row.id, port, visibility };
        tell(t);
        try {
          d.publish?.(t);
        } catch (err) {
          d.logger?.warn({ err, ...t }, "could not tell the other replicas that a port was tightened");
        }
      }
      // Listening or not, the answer names the port: a port may be shared before its server starts.
      const listed = await listRow(row, false);
      return (
        listed.items.find((e) => e.port === port) ?? { port, listening: false, addresses: [], visibility }
      );
    },
    onTightened(cb) {
      listeners.push(cb);
    },
    receiveTightened(t) {
      tell(t);
    },
  };
}
