// warren usage [--since] [--until] [--by user|project|class|org] [--json|--csv]: environment time
// and allocated resources over a period (the control plane's record), with the CPU runners
// measured beside it. Members see their own, admins their organisation's.
import { checkUsageBy, type UsageReport, type UsageRow, usageTimeArg } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export interface UsageOptions {
  since?: string;
  until?: string;
  by?: string;
  json?: boolean;
  csv?: boolean;
}

const CSV_FIELDS = [
  "key",
  "envSeconds",
  "cpuSeconds",
  "memoryGiBHours",
  "diskGiBHours",
  "measuredCpuSeconds",
] as const satisfies readonly (keyof UsageRow)[];

/** A CSV cell: quoted when it must be; a leading = + - @ is defused so a spreadsheet shows it as text. */
function csvCell(v: string | number): string {
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function usageCsv(r: UsageReport): string {
  const lines = [
    CSV_FIELDS.join(","),
    ...r.rows.map((row) => CSV_FIELDS.map((f) => csvCell(row[f])).join(",")),
  ];
  return `${lines.join("\n")}\n`;
}

const hours = (seconds: number) => (seconds / 3600).toFixed(2);
const num = (n: number) => n.toFixed(2);

export function usageTable(r: UsageReport): string {
  const head = `usage by ${r.by}, ${r.since} to ${r.until}\n`;
  if (r.rows.length === 0) return `${head}no usage in this period\n`;
  const total = (f: (x: UsageRow) => number) => r.rows.reduce((s, x) => s + f(x), 0);
  const line = (key: string, env: number, cpu: number, mem: number, disk: number, measured: number) => [
    key,
    hours(env),
    hours(cpu),
    num(mem),
    num(disk),
    hours(measured),
  ];
  const rows = r.rows.map((x) =>
    line(x.key, x.envSeconds, x.cpuSeconds, x.memoryGiBHours, x.diskGiBHours, x.measuredCpuSeconds),
  );
  if (r.rows.length > 1)
    rows.push(
      line(
        "TOTAL",
        total((x) => x.envSeconds),
        total((x) => x.cpuSeconds),
        total((x) => x.memoryGiBHours),
        total((x) => x.diskGiBHours),
        total((x) => x.measuredCpuSeconds),
      ),
    );
  const header = [r.by.toUpperCase(), "ENV HOURS", "CPU HOURS", "MEM GiB-h", "DISK GiB-h", "MEASURED CPU h"];
  return head + renderTable(header, rows);
}

export async function usageCommand(opts: UsageOptions): Promise<number> {
  const now = Date.now();
  const q = {
    ...(opts.since !== undefined ? { since: usageTimeArg("--since", opts.since, now) } : {}),
    ...(opts.until !== undefined ? { until: usageTimeArg("--until", opts.until, now) } : {}),
    ...(opts.by !== undefined ? { by: checkUsageBy(opts.by) } : {}),
  };
  const report = await (await connect()).usage(q);
  if (opts.json) printJson(report);
  else if (opts.csv) process.stdout.write(usageCsv(report));
  else process.stdout.write(usageTable(report));
  return 0;
}
