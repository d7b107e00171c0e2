// warren fleet ls [--json]: each runner of the organisation with its state, labels, CPU, memory
// and disk (allocated/capacity and what is used), environments and last heartbeat; notes under
// the table say why a runner is unreachable or refuses environments, and what the autoscaler
// last decided.
import { type FleetList, type FleetRunner, formatSize } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";

export const FLEET_COLUMNS = ["NAME", "STATE", "LABELS", "CPU", "MEMORY", "DISK", "ENVS", "HEARTBEAT"];

const cores = (n: number) => String(Math.round(n * 100) / 100);

/** "3/8" allocated of capacity, then ", 1.25 used" when the runner reports usage. */
function cpuCell(r: FleetRunner): string {
  const used = r.used ? `, ${cores(r.used.cpuEwmaCores)} used` : "";
  return `${cores(r.allocated.cpus)}/${cores(r.capacity.cpus)}${used}`;
}

function memoryCell(r: FleetRunner): string {
  const used = r.used ? `, ${formatSize(r.used.memoryWorkingSetBytes)} used` : "";
  return `${formatSize(r.allocated.memoryBytes)}/${formatSize(r.capacity.memoryBytes)}${used}`;
}

export function fleetRow(r: FleetRunner, now: number = Date.now()): string[] {
  const labels = Object.entries(r.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return [
    r.name,
    r.state,
    labels || "-",
    cpuCell(r),
    memoryCell(r),
    `${formatSize(r.allocated.diskBytes)}/${formatSize(r.capacity.diskBytes)}`,
    `${r.environments.total} (${r.environments.running} running)`,
    r.lastHeartbeat ? formatAge(r.lastHeartbeat, now) : "in-process",
  ];
}

export function fleetTable(l: FleetList, now: number = Date.now()): string {
  if (l.items.length === 0 && l.autoscaler.length === 0)
    return "no runners; connect one with `warren runner --server URL` and a runner token (`warren admin token create`)\n";
  const notes: string[] = [];
  for (const r of l.items) {
    if (r.unreachableSince)
      notes.push(
        `${r.name}: unreachable since ${r.unreachableSince} (${formatAge(r.unreachableSince, now)}); its environments keep their last state`,
      );
    if (r.unschedulable) notes.push(`${r.name}: takes no new environments: ${r.unschedulable}`);
  }
  for (const a of l.autoscaler) {
    notes.push(`autoscaler (${a.pool}): desired ${a.desired}; ${a.decision} (${formatAge(a.at, now)})`);
  }
  const table = renderTable(
    FLEET_COLUMNS,
    l.items.map((r) => fleetRow(r, now)),
  );
  return notes.length > 0 ? `${table}\n${notes.join("\n")}\n` : table;
}

export async function fleetLsCommand(opts: { json?: boolean }): Promise<number> {
  const l = await (await connect()).listRunners();
  if (opts.json) printJson(l);
  else process.stdout.write(fleetTable(l));
  return 0;
}
