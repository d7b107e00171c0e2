// Which requests are relayed, and to whom. Runs after authentication and the rate limits, so only
// callers this replica already authenticated (and counted) are ever relayed, and before the body
// is read, so the body streams through untouched.
//
// - A live call (below) about an environment whose runner another live replica holds, or an image
//   pull for an organisation none of whose runners this replica holds, goes to that replica's
//   internal listener (relay-forward.ts). The holder re-authenticates and re-authorizes it.
// - Only requests with a bearer token are relayed: the local socket's root and dashboard cookie
//   sessions exist on this replica alone, and the holder would rightly refuse them.
// - On the internal listener: RELAY_HEADER must be present, only the live calls are served, and
//   nothing is relayed again (a holder that no longer holds the runner answers its own 503).
// - On the public listeners RELAY_HEADER means nothing: it is dropped before anything reads it.
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EnvironmentService } from "../services/environments.ts";
import type { Db } from "../store/db.ts";
import { forwardHttp, forwardUpgrade, RELAY_HEADER, type RelayTls } from "./relay-forward.ts";
import { cameByRelay } from "./relay-listener.ts";
import { peerHoldingEnv, peerHoldingOrg, type RelayPeer } from "./replicas.ts";

const E = `${API_PREFIX}/environments/:name`;
/** Calls about one environment that need its runner live: exec, logs, stats, port-forward, ports, automations. */
const ENV_ROUTES = new Set([
  `GET ${E}/exec`,
  `GET ${E}/port-forward`,
  `GET ${E}/logs`,
  `GET ${E}/stats`,
  `GET ${E}/ports`,
  `GET ${E}/services`,
  `GET ${E}/services/:service/logs`,
  `POST ${E}/services/:service/start`,
  `POST ${E}/services/:service/stop`,
  `POST ${E}/services/:service/restart`,
  `GET ${E}/tasks`,
  `GET ${E}/tasks/:task/logs`,
  `POST ${E}/tasks/:task/run`,
]);
/** Calls about the organisation's images on a runner: the pull runs where a runner of it is held. */
const ORG_ROUTES = new Set([`POST ${API_PREFIX}/images/pull`]);

export interface RelayRouting {
  /** This replica's id (what runners.replica and replicas.id name). */
  selfId: string;
  tls: RelayTls;
  db: Db;
  /** Whether this replica holds the runner itself (then nothing is relayed). */
  holdsRunner(runnerId: string): boolean;
  /** Whether this replica holds any runner of the organisation. */
  holdsOrg(orgId: string): boolean;
  now?: () => Date;
}

/** The upgraded socket and early bytes @fastify/websocket keeps on the raw request of an upgrade. */
function upgradeOf(req: FastifyRequest): { socket: import("node:stream").Duplex; head: Buffer } | undefined {
  if (String(req.headers.upgrade ?? "").toLowerCase() !== "websocket") return undefined;
  const raw = req.raw as unknown as Record<symbol, unknown>;
  const sym = (d: string) => Object.getOwnPropertySymbols(raw).find((s) => s.description === d);
  const socketSym = sym("ws-socket");
  const headSym = sym("ws-head");
  if (!socketSym) return undefined;
  const head = headSym ? raw[headSym] : undefined;
  return {
    socket: raw[socketSym] as import("node:stream").Duplex,
    head: Buffer.isBuffer(head) ? head : Buffer.alloc(0),
  };
}

export function installRelay(
  app: FastifyInstance,
  o: RelayRouting & { envs: Pick<EnvironmentService, "find"> },
): void {
  const now = o.now ?? (() => new Date());
  const locate = async (req: FastifyRequest, key: string): Promise<RelayPeer | undefined> => {
    const p = req.principal;
    if (p?.kind !== "user") return undefined;
    if (ORG_ROUTES.has(key)) {
      return o.holdsOrg(p.orgId) ? undefined : peerHoldingOrg(o.db, p.orgId, o.selfId, now());
    }
    const name = (req.params as { name?: string }).name;
    if (name === undefined) return undefined;
    // Not found or not visible: served here, which answers the same 404 the holder would.
    const row = await o.envs.find(p, name).catch(() => undefined);
    if (!row || o.holdsRunner(row.runner_id)) return undefined;
    return peerHoldingEnv(o.db, row.id, o.selfId, now());
  };

  // preParsing: after authentication and the rate limits (so the relaying replica charges the
  // client's own address), before the body is read (so it streams through untouched).
  app.addHook("preParsing", async (req, reply, payload) => {
    const key = `${req.method} ${req.routeOptions.url ?? ""}`;
    const relayable = ENV_ROUTES.has(key) || ORG_ROUTES.has(key);
    if (cameByRelay(req.raw)) {
      if (req.headers[RELAY_HEADER] === undefined || !relayable) {
        throw new WarrenError(
          "FORBIDDEN",
          "the relay listener serves only live calls relayed by another replica; use the public listener",
        );
      }
      return payload; // served here, never relayed again
    }
    delete req.headers[RELAY_HEADER];
    if (!relayable || req.headers.authorization === undefined) return payload;
    const peer = await locate(req, key);
    if (!peer) return payload;
    req.log.debug(
      { replica: peer.replicaId, route: key },
      "relaying a live call to the replica holding the runner",
    );
    const upgrade = upgradeOf(req);
    reply.hijack();
    if (upgrade) forwardUpgrade(req.raw, upgrade.socket, upgrade.head, peer, o.tls, o.selfId);
    else forwardHttp(req.raw, reply.raw, peer, o.tls, o.selfId);
    return payload;
  });
}
