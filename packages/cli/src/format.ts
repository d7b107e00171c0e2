// Human output: tables, ages and one-line summaries. Pure functions, unit-tested.
import {
  type ClassSpec,
  type EgressPolicy,
  type Environment,
  formatEgress,
  formatIdleTimeout,
  formatIoLimits,
  formatSize,
  type ImageInfo,
  runnerUnreachable,
} from "@warren/protocol";

/**
 * The one way tables show a time: how long ago, short (45s ago, 34m ago, 2h ago, 3d ago).
 * --json keeps the ISO-8601 time.
 */
export function formatAge(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "?";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A cpu count with its unit: "1 cpu", "2 cpus", "0.5 cpus". */
export function formatCpus(n: number): string {
  return `${n} ${n === 1 ? "cpu" : "cpus"}`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n") + "\n";
}

export const ENV_COLUMNS = [
  "NAME",
  "STATE",
  "CLASS",
  "IMAGE",
  "RUNTIME",
  "CPUS",
  "MEMORY",
  "DISK",
  "AGE",
  "LAST USED",
  "IDLE STOP",
];

/** How far ahead a time is, short (in 45s, in 27m, in 2h, in 3d); "due" once it passed. */
export function formatIn(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "?";
  const s = Math.floor((t - now) / 1000);
  if (s <= 0) return "due";
  if (s < 60) return `in ${s}s`;
  if (s < 3600) return `in ${Math.floor(s / 60)}m`;
  if (s < 86400) return `in ${Math.floor(s / 3600)}h`;
  return `in ${Math.floor(s / 86400)}d`;
}

/** The last use, e.g. "ssh 3m ago"; "-" when none was recorded. */
export function lastUsedCell(e: Environment, now: number = Date.now()): string {
  const a = e.idle?.lastActivity;
  return a ? `${a.kind} ${formatAge(a.at, now)}` : "-";
}

/** When idle stop stops it: "in 27m", "never", or "-" when it does not run (or the server predates idle stop). */
export function idleStopCell(e: Environment, now: number = Date.now()): string {
  if (!e.idle) return "-";
  if (e.idle.timeoutSeconds === null) return "never";
  if (e.desired !== "running") return "-";
  if (e.idle.stopDeadline) return formatIn(e.idle.stopDeadline, now);
  return `after ${formatIdleTimeout(e.idle.timeoutSeconds)}`;
}

export function envRow(e: Environment, now: number = Date.now()): string[] {
  const r = e.spec.resources;
  return [
    e.name,
    // The state is the last one observed: its runner cannot be asked (footnote under the table).
    runnerUnreachable(e) ? `${e.state}?` : e.state,
    e.spec.className,
    e.spec.image,
    e.spec.runtime,
    String(r.cpus),
    formatSize(r.memoryBytes),
    formatSize(r.diskBytes),
    formatAge(e.createdAt, now),
    lastUsedCell(e, now),
    idleStopCell(e, now),
  ];
}

export function envTable(envs: Environment[], now: number = Date.now()): string {
  const table = renderTable(
    ENV_COLUMNS,
    envs.map((e) => envRow(e, now)),
  );
  const notes = envs.flatMap((e) => {
    const c = runnerUnreachable(e);
    if (!c) return [];
    const runner = e.runner ? `runner ${e.runner.name}` : "its runner";
    return [`? ${e.name}: ${runner} unreachable since ${formatAge(c.at, now)}; last observed state shown`];
  });
  return notes.length > 0 ? `${table}${notes.join("\n")}\n` : table;
}

export const CLASS_COLUMNS = [
  "NAME",
  "CPUS",
  "BURST",
  "MEMORY",
  "DISK",
  "PIDS",
  "RUNTIME",
  "MAX CPUS",
  "MAX MEMORY",
  "MAX DISK",
  "LABELS",
  "OVERCOMMIT",
  "DISK I/O",
  "EGRESS",
];

/** The labels a class requires of its runners: `zone=eu,gpu=none`, or "-" for any runner. */
export function labelsCell(labels: Record<string, string> | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length > 0 ? pairs.join(",") : "-";
}

/** CPU, memory and disk overcommit, "cpu 4 mem 1 disk 4"; "-" from a server before the fleet. */
export function overcommitCell(
  c: Pick<ClassSpec, "cpuOvercommit" | "memoryOvercommit" | "diskOvercommit">,
): string {
  if (c.cpuOvercommit === undefined || c.memoryOvercommit === undefined) return "-";
  const disk = c.diskOvercommit !== undefined ? ` disk ${c.diskOvercommit}` : "";
  return `cpu ${c.cpuOvercommit} mem ${c.memoryOvercommit}${disk}`;
}

/** The CPU governor's burst in cores; "default" is the runner's (2 × cpus); "-" from a server before bursts. */
export function burstCell(burst: number | null | undefined): string {
  if (burst === undefined) return "-";
  return burst === null ? "default" : String(burst);
}

/** An egress policy short enough for a table cell: long allow-lists show their first two CIDRs. */
export function egressCell(p: EgressPolicy | undefined): string {
  if (!p) return "all";
  if (p.mode !== "allow" || p.cidrs.length <= 2) return formatEgress(p);
  return `${p.cidrs.slice(0, 2).join(",")} (+${p.cidrs.length - 2} more)`;
}

export function classTable(classes: ClassSpec[]): string {
  return renderTable(
    CLASS_COLUMNS,
    classes.map((c) => [
      c.builtin ? `${c.name} (builtin)` : c.name,
      String(c.cpus),
      burstCell(c.cpuBurst),
      formatSize(c.memoryBytes),
      formatSize(c.diskBytes),
      String(c.pids),
      c.runtime ?? "-",
      String(c.maxCpus),
      formatSize(c.maxMemoryBytes),
      formatSize(c.maxDiskBytes),
      labelsCell(c.requiredLabels),
      overcommitCell(c),
      formatIoLimits(c.ioLimits),
      egressCell(c.egress),
    ]),
  );
}

export function imageTable(images: ImageInfo[], now: number = Date.now()): string {
  return renderTable(
    ["REF", "DIGEST", "SIZE", "LAYERS", "AGE", "LAST USED"],
    images.map((i) => [
      i.ref,
      i.digest.replace(/^sha256:/, "").slice(0, 12),
      formatSize(i.sizeBytes),
      String(i.layers.length),
      formatAge(i.createdAt, now),
      i.lastUsedAt ? formatAge(i.lastUsedAt, now) : "never",
    ]),
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
