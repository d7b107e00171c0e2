// warren inspect NAME [--json]: desired and observed state, host pid, IP, uid range, cgroups, PSI.
import { type Environment, formatEgress, formatSize } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, printJson } from "../format.ts";

export async function inspectCommand(name: string, opts: { json?: boolean }) {
  const client = await connect();
  const env = await client.getEnvironment(name);
  if (opts.json) printJson(env);
  else process.stdout.write(describeEnv(env));
  return 0;
}

export function describeEnv(env: Environment, now: number = Date.now()): string {
  const r = env.spec.resources;
  const o = env.observed;
  const lines = [
    `Name:       ${env.name}`,
    `ID:         ${env.id}`,
    `State:      ${env.state} (desired: ${env.desired})`,
    `Class:      ${env.spec.className}`,
    `Image:      ${env.spec.image}`,
    `Runtime:    ${env.spec.runtime}`,
    ...(env.spec.project ? [`Project:    ${env.spec.project}`] : []),
    `Resources:  ${r.cpus} cpus, ${formatSize(r.memoryBytes)} memory, ${formatSize(r.diskBytes)} disk, ${r.pids} pids`,
    // Every CIDR, unlike the class table: inspect is where users check what is enforced.
    `Egress:     ${env.spec.egress ? formatEgress(env.spec.egress) : "all"}`,
    `Created:    ${env.createdAt} (${formatAge(env.createdAt, now)} ago)`,
  ];
  if (o) {
    lines.push("Host:");
    lines.push(`  State:    ${o.state}${o.reason ? ` (${o.reason})` : ""}`);
    if (o.pid !== undefined) lines.push(`  Init PID: ${o.pid}`);
    if (o.ip) lines.push(`  IP:       ${o.ip}`);
    if (o.startedAt) lines.push(`  Started:  ${o.startedAt} (${formatAge(o.startedAt, now)} ago)`);
    if (o.resources) {
      // What the kernel was given; differs from Resources above only while a change is pending.
      const a = o.resources;
      lines.push(`  Limits:   ${a.cpus} cpus, ${formatSize(a.memoryBytes)} memory, ${a.pids} pids`);
    }
    if (o.uidRange) {
      const { start, size } = o.uidRange;
      lines.push(`  UID range: ${start}-${start + size - 1} (${size} ids)`);
    }
    if (o.psi) {
      const f = (v: number | null) => (v === null ? "-" : String(v));
      lines.push(`  PSI:      cpu ${f(o.psi.cpu)}, memory ${f(o.psi.memory)}, io ${f(o.psi.io)}`);
    }
    const cgroups = Object.entries(o.cgroupPaths ?? {});
    if (cgroups.length > 0) {
      lines.push("  Cgroups:");
      for (const [k, v] of cgroups) lines.push(`    ${k}: ${v}`);
    }
  }
  if (env.conditions.length > 0) {
    lines.push("Conditions:");
    for (const c of env.conditions) {
      lines.push(`  ${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ""} (${c.at})`);
    }
  }
  return lines.join("\n") + "\n";
}
