// warren fleet cordon|uncordon|drain NAME [--json]: which runners take new environments. A drain
// also stops every environment on the runner that runs; the answer says which, and how far each
// got while the server waited.
import type { FleetAction, FleetActionResult } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

const DONE: Record<FleetAction, string> = {
  cordon: "cordoned; it takes no new environments, its environments keep running",
  uncordon: "takes new environments again",
  drain: "draining; it takes no new environments",
};

export function fleetActionText(action: FleetAction, r: FleetActionResult): string {
  const lines = [`runner ${r.runner.name} ${DONE[action]} (state: ${r.runner.state})`];
  if (action === "drain") {
    if (r.stopping.length === 0) lines.push("no environment on it was running");
    for (const e of r.stopping)
      lines.push(`  ${e.name}: ${e.state === "stopped" ? "stopped" : `stopping (${e.state})`}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function fleetActionCommand(
  action: FleetAction,
  name: string,
  opts: { json?: boolean },
): Promise<number> {
  const r = await (await connect()).fleetAction(name, action);
  if (opts.json) printJson(r);
  else process.stdout.write(fleetActionText(action, r));
  return 0;
}
