// A short-lived memo for the port proxy's per-request lookups (which environment a host names,
// a port's visibility, the organisation's public-ports policy). Without it every request costs
// four database round trips, the largest share of the proxy's time (bench/proxy). Entries live
// one second, so a change made elsewhere is seen within that bound; on this replica a tightened
// port is forgotten at once (ports.onTightened), and who the visitor is never comes from here:
// sessions are checked on every request.
import type { Clock } from "../clock.ts";
import type { PortTargetLookup } from "../services/port-targets.ts";
import type { PortService } from "../services/ports.ts";

export const ROUTE_CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

export interface Memo<V> {
  get(key: string, load: () => Promise<V>): Promise<V>;
  forget(match: (key: string) => boolean): void;
}

export function memo<V>(clock: Clock, ttlMs = ROUTE_CACHE_TTL_MS): Memo<V> {
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return {
    get(key, load) {
      const now = clock.now();
      const hit = entries.get(key);
      if (hit && now - hit.at < ttlMs) return hit.value;
      if (entries.size >= MAX_ENTRIES) entries.clear(); // bounded: a flood of hosts costs lookups, not memory
      const value = load();
      entries.set(key, { at: now, value });
      // A failed lookup is not remembered.
      value.catch(() => entries.get(key)?.value === value && entries.delete(key));
      return value;
    },
    forget(match) {
      for (const k of entries.keys()) if (match(k)) entries.delete(k);
    },
  };
}

/** The proxy's view of targets and ports, memoised as above. */
export function cachedRouteLookups(
  clock: Clock,
  targets: PortTargetLookup,
  ports: Pick<PortService, "visibility" | "publicAllowed" | "onTightened">,
): { targets: PortTargetLookup; ports: Pick<PortService, "visibility" | "publicAllowed"> } {
  const t = memo<Awaited<ReturnType<PortTargetLookup["resolve"]>>>(clock);
  const v = memo<Awaited<ReturnType<PortService["visibility"]>>>(clock);
  const p = memo<boolean>(clock);
  ports.onTightened((envId, port) => v.forget((k) => k === `${envId}:${port}`));
  return {
    targets: { resolve: (ref) => t.get(`${ref.org ?? ""}/${ref.env}`, () => targets.resolve(ref)) },
    ports: {
      visibility: (envId, port) => v.get(`${envId}:${port}`, () => ports.visibility(envId, port)),
      publicAllowed: (orgId) => p.get(orgId, () => ports.publicAllowed(orgId)),
    },
  };
}
