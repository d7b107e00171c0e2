// Port proxy and SSH gateway traffic per environment. Both live in the control-plane process, so
// they are counted here rather than asked from runners. The proxy and the gateway see only the
// small observer shapes they call (ProxyObserver, SshObserver); this module keeps the numbers by
// environment id and renders them at scrape time with the control plane's own labels (id, name,
// organisation) for the environments the caller may see, like the runners' series.
import { Counter, Gauge, type Registry } from "prom-client";
import type { ProxyObserver } from "../ingress/http-proxy-contracts.ts";
import type { SshObserver } from "../ingress/ssh-gateway.ts";
import type { EnvLabels } from "./env-series.ts";

export type Direction = "to_env" | "from_env";

interface Bytes {
  to_env: number;
  from_env: number;
}

/** One environment's counts as a scrape sees them (open SSH logins' bytes included). */
export interface IngressCounts {
  proxyRequests: number;
  proxyBytes: Bytes;
  websocketsOpen: number;
  websocketsTotal: number;
  sshOpen: number;
  sshTotal: number;
  sshBytes: Bytes;
}

interface Entry {
  proxyRequests: number;
  proxyBytes: Bytes;
  websocketsOpen: number;
  websocketsTotal: number;
  sshTotal: number;
  /** Bytes of SSH logins that have ended. */
  sshBytesClosed: Bytes;
  /** Open logins: read at scrape time, so a long session's traffic shows while it lasts. */
  sshLive: Set<() => Bytes>;
}

export interface IngressMetrics {
  readonly proxy: ProxyObserver;
  readonly ssh: SshObserver;
  /** Counts by environment id; only environments the proxy or the gateway has served. */
  snapshot(): Map<string, IngressCounts>;
  /** Drops environments that no longer exist (called at scrape time with the live ids). */
  retain(exists: (envId: string) => boolean): void;
}

export function createIngressMetrics(): IngressMetrics {
  const byEnv = new Map<string, Entry>();
  const entry = (envId: string): Entry => {
    let e = byEnv.get(envId);
    if (!e) {
      e = {
        proxyRequests: 0,
        proxyBytes: { to_env: 0, from_env: 0 },
        websocketsOpen: 0,
        websocketsTotal: 0,
        sshTotal: 0,
        sshBytesClosed: { to_env: 0, from_env: 0 },
        sshLive: new Set(),
      };
      byEnv.set(envId, e);
    }
    return e;
  };
  /** Closing twice (an error and a close event) must not count twice. */
  const once = (f: () => void): (() => void) => {
    let done = false;
    return () => {
      if (!done) {
        done = true;
        f();
      }
    };
  };
  return {
    proxy: {
      request: (envId) => void entry(envId).proxyRequests++,
      bytes: (envId, direction, n) => {
        if (n > 0) entry(envId).proxyBytes[direction] += n;
      },
      websocketOpened(envId) {
        const e = entry(envId);
        e.websocketsOpen++;
        e.websocketsTotal++;
        return once(() => void entry(envId).websocketsOpen--);
      },
    },
    ssh: {
      sessionOpened(envId, bytes) {
        const e = entry(envId);
        e.sshTotal++;
        const read = (): Bytes => {
          const b = bytes();
          return { to_env: b.toEnv, from_env: b.fromEnv };
        };
        e.sshLive.add(read);
        return once(() => {
          const last = read();
          const now = entry(envId);
          now.sshLive.delete(read);
          now.sshBytesClosed.to_env += last.to_env;
          now.sshBytesClosed.from_env += last.from_env;
        });
      },
    },
    snapshot() {
      const out = new Map<string, IngressCounts>();
      for (const [id, e] of byEnv) {
        const sshBytes = { ...e.sshBytesClosed };
        for (const read of e.sshLive) {
          const b = read();
          sshBytes.to_env += b.to_env;
          sshBytes.from_env += b.from_env;
        }
        out.set(id, {
          proxyRequests: e.proxyRequests,
          proxyBytes: { ...e.proxyBytes },
          websocketsOpen: e.websocketsOpen,
          websocketsTotal: e.websocketsTotal,
          sshOpen: e.sshLive.size,
          sshTotal: e.sshTotal,
          sshBytes,
        });
      }
      return out;
    },
    retain(exists) {
      for (const [id, e] of byEnv) {
        // An open session keeps its entry: it closes into it later.
        if (!exists(id) && e.sshLive.size === 0 && e.websocketsOpen === 0) byEnv.delete(id);
      }
    },
  };
}

const NO_COUNTS: IngressCounts = {
  proxyRequests: 0,
  proxyBytes: { to_env: 0, from_env: 0 },
  websocketsOpen: 0,
  websocketsTotal: 0,
  sshOpen: 0,
  sshTotal: 0,
  sshBytes: { to_env: 0, from_env: 0 },
};

/**
 * Registers the ingress series for these environments: the ones with traffic, plus any others
 * given as `zero` (running ones), so that a first request is an increase from 0 for rate().
 */
export function addIngressSeries(
  registry: Registry,
  envs: readonly { id: string; labels: EnvLabels; zero: boolean }[],
  counts: ReadonlyMap<string, IngressCounts>,
): void {
  const labelNames = ["env_id", "env_name", "org"];
  const withDirection = [...labelNames, "direction"];
  const counter = (name: string, help: string, names = labelNames) =>
    new Counter({ name, help, labelNames: names, registers: [registry] });
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [registry] });
  const requests = counter(
    "warren_proxy_requests_total",
    "Requests the port proxy passed on to the environment's app, answered or not (WebSocket handshakes included).",
  );
  const proxyBytes = counter(
    "warren_proxy_bytes_total",
    "HTTP body and WebSocket bytes through the port proxy; direction to_env (requests) or from_env (responses).",
    withDirection,
  );
  const wsOpen = gauge(
    "warren_proxy_websocket_sessions",
    "WebSocket connections open through the port proxy.",
  );
  const wsTotal = counter(
    "warren_proxy_websocket_sessions_total",
    "WebSocket connections the port proxy joined to the environment.",
  );
  const sshOpen = gauge("warren_ssh_sessions", "SSH gateway logins open to the environment.");
  const sshTotal = counter("warren_ssh_sessions_total", "SSH gateway logins to the environment.");
  const sshBytes = counter(
    "warren_ssh_bytes_total",
    "Bytes on SSH gateway connections (encrypted, with protocol overhead); direction to_env (from the client) or from_env.",
    withDirection,
  );
  for (const env of envs) {
    const c = counts.get(env.id) ?? (env.zero ? NO_COUNTS : undefined);
    if (!c) continue;
    const l = { ...env.labels };
    requests.inc(l, c.proxyRequests);
    wsOpen.set(l, c.websocketsOpen);
    wsTotal.inc(l, c.websocketsTotal);
    sshOpen.set(l, c.sshOpen);
    sshTotal.inc(l, c.sshTotal);
    for (const direction of ["to_env", "from_env"] as const) {
      proxyBytes.inc({ ...l, direction }, c.proxyBytes[direction]);
      sshBytes.inc({ ...l, direction }, c.sshBytes[direction]);
    }
  }
}
