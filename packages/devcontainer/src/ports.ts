// forwardPorts and portsAttributes as the environment's ports (always private; portsAttributes
// cannot make a port public). Only ports inside the environment are forwarded: a "HOST:PORT"
// entry naming another host (a Compose service) has no meaning here and is skipped.
import type { MergedConfig, PortAttributes } from "./types.ts";

export interface ForwardedPort {
  port: number;
  label?: string;
  onAutoForward?: string;
  requireLocalPort?: boolean;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "0.0.0.0"]);

function portOf(entry: number | string): number | undefined {
  if (typeof entry === "number")
    return Number.isInteger(entry) && entry > 0 && entry < 65536 ? entry : undefined;
  const m = /^([^:]+):(\d{1,5})$/.exec(entry);
  if (!m || !LOCAL_HOSTS.has(m[1]!)) return undefined;
  return portOf(Number(m[2]));
}

/** The attributes for a port: an exact key, then a "FROM-TO" range key, then otherPortsAttributes. */
function attributesFor(merged: MergedConfig, port: number): PortAttributes | undefined {
  const attrs = merged.portsAttributes ?? {};
  if (Object.hasOwn(attrs, String(port))) return attrs[String(port)];
  for (const [key, a] of Object.entries(attrs)) {
    const m = /^(\d+)-(\d+)$/.exec(key);
    if (m && port >= Number(m[1]) && port <= Number(m[2])) return a;
  }
  return merged.otherPortsAttributes;
}

export function forwardedPorts(merged: MergedConfig): ForwardedPort[] {
  const out: ForwardedPort[] = [];
  const seen = new Set<number>();
  for (const entry of merged.forwardPorts ?? []) {
    const port = portOf(entry);
    if (port === undefined || seen.has(port)) continue;
    seen.add(port);
    const a = attributesFor(merged, port);
    const p: ForwardedPort = { port };
    if (typeof a?.label === "string") p.label = a.label;
    if (typeof a?.onAutoForward === "string") p.onAutoForward = a.onAutoForward;
    if (typeof a?.requireLocalPort === "boolean") p.requireLocalPort = a.requireLocalPort;
    out.push(p);
  }
  return out;
}
