// Usage: environment time and allocated CPU, memory and disk from the control plane's own record,
// with the CPU runners measured beside it, grouped by user, project, class or organisation, over
// a chosen window. A bar chart of the top rows, and every row in a table.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import { BarChart } from "../../components/chart-bars.tsx";
import type { Reply } from "../settings/api-types.ts";
import { dayToIso, formatNumber, isoDay } from "../settings/format.ts";
import { inputValue, Loading, PageTitle, ScrollTable, Section, useLoad } from "../settings/kit.tsx";

type UsageReport = Reply<"/api/v1/usage", "get">;
type UsageRow = UsageReport["rows"][number];
type By = UsageReport["by"];

const GROUPS: { by: By; label: string }[] = [
  { by: "user", label: "User" },
  { by: "project", label: "Project" },
  { by: "class", label: "Class" },
  { by: "org", label: "Organisation" },
];
const hours = (s: number) => s / 3600;

interface Metric {
  id: string;
  label: string;
  series: string[];
  values: (r: UsageRow) => number[];
  unit: string;
}
const METRICS: Metric[] = [
  {
    id: "env",
    label: "Environment hours",
    series: ["running"],
    values: (r) => [hours(r.envSeconds)],
    unit: "h",
  },
  {
    id: "cpu",
    label: "CPU hours",
    series: ["allocated", "measured"],
    values: (r) => [hours(r.cpuSeconds), hours(r.measuredCpuSeconds)],
    unit: "CPU-h",
  },
  {
    id: "mem",
    label: "Memory GiB-hours",
    series: ["allocated"],
    values: (r) => [r.memoryGiBHours],
    unit: "GiB-h",
  },
  {
    id: "disk",
    label: "Disk GiB-hours",
    series: ["reserved"],
    values: (r) => [r.diskGiBHours],
    unit: "GiB-h",
  },
];
/** More bars than this stop being readable; the table below still lists every row. */
const CHART_ROWS = 15;

export function UsagePage(): JSX.Element {
  const today = new Date();
  const [by, setBy] = useState<By>("user");
  const [since, setSince] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [until, setUntil] = useState(isoDay(today));
  const [metricId, setMetricId] = useState("cpu");
  const metric = METRICS.find((m) => m.id === metricId) ?? METRICS[0]!;
  const report = useLoad(() => {
    const s = dayToIso(since);
    const u = dayToIso(until, true);
    const query = { by, ...(s ? { since: s } : {}), ...(u ? { until: u } : {}) };
    return unwrap(api.GET("/api/v1/usage", { params: { query } }));
  }, [by, since, until]);
  const fmt = (v: number) => `${formatNumber(v, v < 10 ? 2 : 0)} ${metric.unit}`;

  return (
    <>
      <PageTitle title="Usage">
        Time and allocation as the control plane recorded them (what is billed), with the CPU runners measured
        beside it.
      </PageTitle>
      <Section title="Report">
        <form class="form form-filters" onSubmit={(e) => e.preventDefault()}>
          <div class="field">
            <label for="usage-by">Group by</label>
            <select id="usage-by" value={by} onChange={(e) => setBy(inputValue(e) as By)}>
              {GROUPS.map((g) => (
                <option key={g.by} value={g.by}>
                  {g.label}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="usage-metric">Chart</label>
            <select id="usage-metric" value={metricId} onChange={(e) => setMetricId(inputValue(e))}>
              {METRICS.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.label}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="usage-since">Since</label>
            <input id="usage-since" type="date" value={since} onChange={(e) => setSince(inputValue(e))} />
          </div>
          <div class="field">
            <label for="usage-until">Until</label>
            <input id="usage-until" type="date" value={until} onChange={(e) => setUntil(inputValue(e))} />
          </div>
        </form>
        <Loading state={report}>
          {(r) => {
            const rows = [...r.rows].sort((a, b) => (metric.values(b)[0] ?? 0) - (metric.values(a)[0] ?? 0));
            if (rows.length === 0) return <p>No usage in this window.</p>;
            const shown = rows.slice(0, CHART_ROWS);
            return (
              <>
                <BarChart
                  label={`${metric.label} by ${r.by}, ${since} to ${until}${rows.length > CHART_ROWS ? `, top ${CHART_ROWS}` : ""}`}
                  series={metric.series}
                  format={fmt}
                  data={shown.map((row) => ({ label: row.key, values: metric.values(row) }))}
                />
                <UsageTable rows={rows} by={r.by} />
              </>
            );
          }}
        </Loading>
      </Section>
    </>
  );
}

function UsageTable({ rows, by }: { rows: UsageRow[]; by: By }): JSX.Element {
  const total = (f: (r: UsageRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  const cells = (r: Pick<UsageRow, Exclude<keyof UsageRow, "key">>) => (
    <>
      <td>{formatNumber(hours(r.envSeconds))}</td>
      <td>{formatNumber(hours(r.cpuSeconds))}</td>
      <td>{formatNumber(hours(r.measuredCpuSeconds))}</td>
      <td>{formatNumber(r.memoryGiBHours)}</td>
      <td>{formatNumber(r.diskGiBHours)}</td>
    </>
  );
  return (
    <ScrollTable label="Usage table">
      <table>
        <caption>Usage by {by}</caption>
        <thead>
          <tr>
            <th scope="col">{GROUPS.find((g) => g.by === by)?.label}</th>
            <th scope="col">Env hours</th>
            <th scope="col">CPU-h allocated</th>
            <th scope="col">CPU-h measured</th>
            <th scope="col">Memory GiB-h</th>
            <th scope="col">Disk GiB-h</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">
                <span class="wrap">{r.key}</span>
              </th>
              {cells(r)}
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            {cells({
              envSeconds: total((r) => r.envSeconds),
              cpuSeconds: total((r) => r.cpuSeconds),
              measuredCpuSeconds: total((r) => r.measuredCpuSeconds),
              memoryGiBHours: total((r) => r.memoryGiBHours),
              diskGiBHours: total((r) => r.diskGiBHours),
            })}
          </tr>
        </tfoot>
      </table>
    </ScrollTable>
  );
}
