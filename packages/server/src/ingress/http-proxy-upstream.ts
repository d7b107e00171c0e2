// Upstream connections from the port proxy to apps inside environments. Each connection is a
// `RunnerApi.dial` byte stream (the Engine's socket in the env's netns in embedded mode, a dial
// stream over the runner link otherwise), pooled by a keep-alive http.Agent per (env, port), so a
// browser's requests reuse connections instead of paying a dial each.
//
// node's Agent was written for net.Socket: it calls setKeepAlive/ref/unref/setTimeout on pooled
// sockets. A dialled stream need not have them, so they are filled in as no-ops, and the idle
// timeout of a pooled connection is the Agent's own timer here rather than the socket's.
import http from "node:http";
import type { Duplex } from "node:stream";
import type { Actor } from "../services/actor.ts";

/** How long an unused upstream connection stays pooled: under node's 5 s server keep-alive default. */
export const UPSTREAM_IDLE_MS = 4_000;
/** Pools kept (least recently used dropped first, their idle connections closed). */
export const MAX_POOLS = 256;
/** Connections per pool, so one busy port cannot hold every runner stream. */
export const MAX_SOCKETS_PER_PORT = 64;

/**
 * `visitor`: whom the connection is for (the signed-in visitor; none on a public port), so a dial
 * relayed to another replica can be re-checked there (relay/ingress-relay.ts).
 */
export type Dial = (envId: string, port: number, visitor?: Actor) => Promise<Duplex>;

/** Connections are pooled per visitor too: each was dialled (and re-checked) for the one it serves. */
function visitorKey(v: Actor | undefined): string {
  return v?.kind === "user" ? `${v.orgId}/${v.userId}/${v.tokenId ?? ""}` : "";
}

type PooledSocket = Duplex & {
  setKeepAlive?: (...a: unknown[]) => unknown;
  ref?: () => unknown;
  unref?: () => unknown;
  setNoDelay?: (...a: unknown[]) => unknown;
  setTimeout?: (...a: unknown[]) => unknown;
};

function fillSocketMethods(s: PooledSocket): Duplex {
  const self = () => s;
  s.setKeepAlive ??= self;
  s.ref ??= self;
  s.unref ??= self;
  s.setNoDelay ??= self;
  s.setTimeout ??= self;
  return s;
}

class DialAgent extends http.Agent {
  readonly #idle = new WeakMap<Duplex, NodeJS.Timeout>();

  readonly envId: string;
  readonly idleMs: number;

  constructor(envId: string, port: number, dial: Dial, idleMs: number, onDial: () => void, visitor?: Actor) {
    // maxFreeSockets = maxSockets: a smaller cap closes connections a busy port frees at once and
    // re-dials them on the next burst (each dial checks the runtime's state), a cliff under load.
    super({
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_PORT,
      maxFreeSockets: MAX_SOCKETS_PER_PORT,
      scheduling: "lifo",
    });
    this.envId = envId;
    this.idleMs = idleMs;
    // The callback form: node's Agent waits for it when nothing is returned.
    (this as unknown as { createConnection: unknown }).createConnection = (
      _opts: unknown,
      cb: (err: Error | null, s?: Duplex) => void,
    ) => {
      onDial();
      dial(envId, port, visitor).then(
        (s) => cb(null, fillSocketMethods(s as PooledSocket)),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
      return undefined;
    };
  }

  override keepSocketAlive(socket: Duplex): boolean {
    const t = setTimeout(() => socket.destroy(), this.idleMs);
    t.unref();
    this.#idle.set(socket, t);
    return true;
  }

  override reuseSocket(socket: Duplex, req: http.ClientRequest): void {
    clearTimeout(this.#idle.get(socket));
    this.#idle.delete(socket);
    super.reuseSocket(socket as never, req);
  }
}

function closeIdle(a: http.Agent): void {
  for (const list of Object.values(a.freeSockets)) for (const s of list ?? []) s.destroy();
}

export interface UpstreamPools {
  /** The pooled agent for (env, port), made on first use. */
  agent(envId: string, port: number, visitor?: Actor): http.Agent;
  /** Dials made so far (tests check reuse with it). */
  dials(): number;
  /** Drops an environment's pools (it stopped or went away): their connections are dead. */
  forget(envId: string): void;
  close(): void;
}

export function createUpstreamPools(
  dial: Dial,
  o: { idleMs?: number; maxPools?: number } = {},
): UpstreamPools {
  const pools = new Map<string, DialAgent>();
  const max = o.maxPools ?? MAX_POOLS;
  let dialled = 0;
  return {
    agent(envId, port, visitor) {
      const key = `${envId}:${port}:${visitorKey(visitor)}`;
      let a = pools.get(key);
      if (a) {
        pools.delete(key); // re-inserted last: Map order is the LRU order
      } else {
        a = new DialAgent(envId, port, dial, o.idleMs ?? UPSTREAM_IDLE_MS, () => dialled++, visitor);
        while (pools.size >= max) {
          const [oldest, agent] = pools.entries().next().value as [string, DialAgent];
          pools.delete(oldest);
          closeIdle(agent); // requests in flight finish on their sockets
        }
      }
      pools.set(key, a);
      return a;
    },
    dials: () => dialled,
    forget(envId) {
      for (const [key, a] of pools) {
        if (a.envId === envId) {
          pools.delete(key);
          a.destroy();
        }
      }
    },
    close() {
      for (const a of pools.values()) a.destroy();
      pools.clear();
    },
  };
}
