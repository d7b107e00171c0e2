// Relays between replicas, wired for the daemon (`warren server` with more than one replica on
// PostgreSQL): the cluster CA from the store, this replica's leaf, the routing hook the app installs
// (relay-hook.ts), the internal mutual-TLS listener (relay-listener.ts) and this replica's row in
// `replicas`, refreshed by a heartbeat so the others know where to relay and which certificate to
// expect. Two steps because the hook must be in the app before it is ready, and the listener can
// only serve an app that is.
import { hostname } from "node:os";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { parseListen } from "../http/listen-tls.ts";
import { subjectAltNames } from "../http/tls-cert.ts";
import type { RunnerHub } from "../runners/hub.ts";
import { secretsBox } from "../services/secrets.ts";
import type { Db } from "../store/db.ts";
import type { IngressUpgrade } from "./ingress-serve.ts";
import { issueLeaf, type LeafCert, loadOrCreateCa } from "./relay-ca.ts";
import type { RelayRouting } from "./relay-hook.ts";
import { listenRelay, type RelayListener } from "./relay-listener.ts";
import { removeReplica, touchReplica, upsertReplica } from "./replicas.ts";

const HEARTBEAT_MS = 10_000;

export interface RelayOptions {
  db: Db;
  /** The daemon's root: keys/secrets.key seals the CA key (every replica has the same one). */
  root: string;
  replicaId: string;
  /** HOST:PORT of the internal listener; port 0 picks one. */
  listen: string;
  /** https://HOST:PORT the other replicas dial; default from the bound address (the host name for a wildcard). */
  advertise?: string | undefined;
  holdsRunner(runnerId: string): boolean;
  holdsOrg(orgId: string): boolean;
  logger: FastifyBaseLogger;
}

export interface Relay {
  /** For build(): what the app's relay hook needs. */
  routing: RelayRouting;
  /**
   * Starts the internal listener on the (ready) app and registers this replica; `ingress` serves
   * the SSH gateway's and port proxy's relayed streams (relay/ingress-serve.ts).
   */
  listen(
    app: FastifyInstance,
    ingress?: IngressUpgrade,
  ): Promise<{ url: string; fingerprint: string } | undefined>;
  close(): Promise<void>;
}

function advertisedUrl(bound: { host: string; port: number }, advertise: string | undefined): string {
  if (advertise) return new URL(advertise).origin;
  const wildcard = bound.host === "0.0.0.0" || bound.host === "::";
  const host = wildcard ? hostname() : bound.host;
  return `https://${host.includes(":") ? `[${host}]` : host}:${bound.port}`;
}

export async function prepareRelay(o: RelayOptions): Promise<Relay> {
  const where = parseListen(o.listen);
  if (o.advertise !== undefined && !/^https:\/\/[^/]+$/.test(o.advertise.replace(/\/$/, ""))) {
    throw new Error(
      `invalid relay advertise URL ${JSON.stringify(o.advertise)}: expected https://HOST:PORT, the address other replicas reach this one's relay listener at`,
    );
  }
  const ca = await loadOrCreateCa(o.db, secretsBox(o.root), () => new Date().toISOString());
  const sans = subjectAltNames(where.host);
  if (o.advertise) {
    const h = new URL(o.advertise).hostname.replace(/^\[|\]$/g, "");
    sans.push(/^[0-9.]+$/.test(h) || h.includes(":") ? `IP:${h}` : `DNS:${h}`);
  }
  const leaf: LeafCert = await issueLeaf(ca, o.replicaId, [...new Set(sans)]);
  let listener: RelayListener | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    routing: {
      selfId: o.replicaId,
      tls: { caPem: leaf.caPem, certPem: leaf.certPem, keyPem: leaf.keyPem },
      db: o.db,
      holdsRunner: o.holdsRunner,
      holdsOrg: o.holdsOrg,
    },
    async listen(app, ingress) {
      listener = await listenRelay(app, { ...where, leaf, ingress });
      const url = advertisedUrl(listener.address, o.advertise);
      await upsertReplica(o.db, {
        id: o.replicaId,
        url,
        fingerprint: leaf.fingerprint,
        certPem: leaf.certPem,
        now: new Date(),
      });
      timer = setInterval(() => {
        touchReplica(o.db, o.replicaId, new Date()).catch((err: unknown) =>
          o.logger.warn({ err }, "relay heartbeat failed; retried at the next beat"),
        );
      }, HEARTBEAT_MS);
      timer.unref();
      o.logger.info({ url, fingerprint: leaf.fingerprint }, "relay listener (mutual TLS) for other replicas");
      return { url, fingerprint: leaf.fingerprint };
    },
    async close() {
      if (timer) clearInterval(timer);
      await removeReplica(o.db, o.replicaId).catch(() => undefined);
      await listener?.close();
    },
  };
}

/**
 * The daemon's relays, when it is a server (a hub) and `relayListen` is set. With
 * `relayListenOptional` (the address was only the default), a failure is logged and the server
 * runs without relays: live calls for runners on other replicas then answer 503 as before.
 */
export async function relayFromOptions(
  o: {
    root: string;
    relayListen?: string | undefined;
    relayAdvertise?: string | undefined;
    relayListenOptional?: boolean | undefined;
  },
  p: { db: Db; replicaId: string; hub: Pick<RunnerHub, "connected"> | undefined; logger: FastifyBaseLogger },
): Promise<Relay | undefined> {
  const hub = p.hub;
  if (!hub || o.relayListen === undefined) return undefined;
  const logger = p.logger.child({ component: "relay" });
  const optional = (err: unknown) => {
    if (!o.relayListenOptional) throw err;
    logger.error(
      { err },
      "relays between replicas are off (live calls for runners other replicas hold answer 503); pass --relay-listen HOST:PORT to require them",
    );
  };
  let relay: Relay;
  try {
    relay = await prepareRelay({
      db: p.db,
      root: o.root,
      replicaId: p.replicaId,
      listen: o.relayListen,
      advertise: o.relayAdvertise,
      holdsRunner: (id) => hub.connected().some((c) => c.runnerId === id),
      holdsOrg: (org) => hub.connected().some((c) => c.orgId === org),
      logger,
    });
  } catch (err) {
    optional(err);
    return undefined;
  }
  return {
    ...relay,
    // Listening on a default address that is taken is not worth refusing to start for, either.
    listen: (app, ingress) =>
      relay.listen(app, ingress).catch((err: unknown) => {
        optional(err);
        return undefined;
      }),
  };
}
