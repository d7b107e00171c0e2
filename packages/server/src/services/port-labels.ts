// devcontainer.json's forwardPorts and portsAttributes become an environment's ports: listed
// (with their labels) before anything listens, always private. portsAttributes cannot change a
// port's visibility: only its owner, within the organisation's policy, can (services/ports.ts).
import type { EnvRow } from "../store/queries/envs.ts";
import { parseSetup } from "../store/queries/setups.ts";

const MAX_LABEL = 200;

export function forwardedPortsOf(row: Pick<EnvRow, "setup">): { port: number; label?: string }[] {
  const merged = parseSetup(row)?.merged as
    | { forwardPorts?: unknown[]; portsAttributes?: Record<string, { label?: unknown }> }
    | undefined;
  if (!merged || !Array.isArray(merged.forwardPorts)) return [];
  const out: { port: number; label?: string }[] = [];
  for (const p of merged.forwardPorts) {
    // A number, or "host:port" where the host can only be the environment itself here.
    const m =
      typeof p === "number"
        ? String(p)
        : typeof p === "string"
          ? /^(?:localhost:|127\.0\.0\.1:)?(\d{1,5})$/.exec(p)?.[1]
          : undefined;
    const port = Number(m);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65_535) continue;
    const label = merged.portsAttributes?.[String(port)]?.label;
    out.push({ port, ...(typeof label === "string" ? { label: label.slice(0, MAX_LABEL) } : {}) });
  }
  return out;
}
