// warren inspect NAME [--json]: desired and observed state, host pid, IP, uid range, cgroups, PSI.
import {
  type Environment,
  formatEgress,
  formatIdleTimeout,
  formatSize,
  RUNNER_UNREACHABLE,
} from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, formatCpus, formatIn, printJson } from "../format.ts";
import { cpuGovernorLines } from "./inspect-cpu.ts";

export async function inspectCommand(name: string, opts: { json?: boolean }) {
  const client = await connect();
  const env = await client.getEnvironment(name);
  if (opts.json) printJson(env);
  else process.stdout.write(describeEnv(env));
  return 0;
}

/** Every value starts in this column, top-level and Host lines alike ("  UID range: " is widest). */
const VALUE_COLUMN = 13;
const field = (label: string, value: string, indent = "") =>
  `${indent}${`${label}:`.padEnd(VALUE_COLUMN - indent.length)}${value}`;

export function describeEnv(env: Environment, now: number = Date.now()): string {
  const r = env.spec.resources;
  const o = env.observed;
  const when = (iso: string) => `${iso} (${formatAge(iso, now)})`;
  const lines = [
    field("Name", env.name),
    field("ID", env.id),
    field("State", `${env.state} (desired: ${env.desired})`),
    field("Class", env.spec.className),
    field("Image", env.spec.image),
    field("Runtime", env.spec.runtime),
    ...(env.spec.project ? [field("Project", env.spec.project)] : []),
    field("User", env.spec.user ?? "root"),
    field(
      "Resources",
      `${formatCpus(r.cpus)}, ${formatSize(r.memoryBytes)} memory, ${formatSize(r.diskBytes)} disk, ${r.pids} pids`,
    ),
    // Every CIDR, unlike the class table: inspect is where users check what is enforced.
    field("Egress", env.spec.egress ? formatEgress(env.spec.egress) : "all"),
    field("Created", when(env.createdAt)),
  ];
  if (env.runner) {
    const { id, name } = env.runner;
    lines.push(field("Runner", name === id ? name : `${name} (${id})`));
  }
  if (env.placement) lines.push(field("Placement", env.placement));
  // Why it is still up, or when it stops: what idle stop goes by.
  if (env.idle) {
    const i = env.idle;
    lines.push(
      field(
        "Idle stop",
        i.timeoutSeconds === null ? "never" : `after ${formatIdleTimeout(i.timeoutSeconds)} unused`,
      ),
    );
    if (i.lastActivity) {
      const a = i.lastActivity;
      lines.push(field("Last used", `${when(a.at)}: ${a.kind} by ${a.source}`));
    }
    if (i.stopDeadline && env.desired === "running")
      lines.push(field("Stops at", `${i.stopDeadline} (${formatIn(i.stopDeadline, now)})`));
  }
  if (o) {
    const host = (label: string, value: string) => lines.push(field(label, value, "  "));
    lines.push("Host:");
    host("State", `${o.state}${o.reason ? ` (${o.reason})` : ""}`);
    if (o.pid !== undefined) host("Init PID", String(o.pid));
    if (o.ip) host("IP", o.ip);
    if (o.startedAt) host("Started", when(o.startedAt));
    if (o.resources) {
      // What the kernel was given; differs from Resources above only while a change is pending.
      const a = o.resources;
      host("Limits", `${formatCpus(a.cpus)}, ${formatSize(a.memoryBytes)} memory, ${a.pids} pids`);
    }
    if (o.oom) {
      const last = o.oom.last ? `; last ${when(o.oom.last.at)}: ${o.oom.last.message}` : "";
      host("OOM kills", `${o.oom.kills}${last}`);
    }
    if (o.cpuGovernor) for (const [label, value] of cpuGovernorLines(o.cpuGovernor)) host(label, value);
    if (o.uidRange) {
      const { start, size } = o.uidRange;
      host("UID range", `${start}-${start + size - 1} (${size} ids)`);
    }
    if (o.psi) {
      const f = (v: number | null) => (v === null ? "-" : String(v));
      host("PSI", `cpu ${f(o.psi.cpu)}, memory ${f(o.psi.memory)}, io ${f(o.psi.io)}`);
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
      // An unreachable runner's condition says since when: the state above is as last observed.
      const at = c.type === RUNNER_UNREACHABLE && c.status === "True" ? `since ${when(c.at)}` : c.at;
      lines.push(`  ${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ""} (${at})`);
    }
  }
  return lines.join("\n") + "\n";
}
