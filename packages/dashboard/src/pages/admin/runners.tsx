// The runner serving this organisation: its capacity (host facts), what its environments are
// allocated, and what they use now (live stats, refreshed every few seconds).
import type { JSX } from "preact";
import { useEffect } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import type { Item, Reply } from "../settings/api-types.ts";
import { formatBytes, formatNumber } from "../settings/format.ts";
import { Loading, PageTitle, ScrollTable, Section, useLoad } from "../settings/kit.tsx";

type Environment = Item<"/api/v1/environments">;
type EnvStats = Item<"/api/v1/stats">;
type RunnerInfo = Reply<"/api/v1/runner", "get">;

const REFRESH_MS = 5000;
/** Enough pages for any organisation this page is meant for, without looping forever. */
const MAX_PAGES = 50;

async function runningEnvironments(): Promise<Environment[]> {
  const out: Environment[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await unwrap(
      api.GET("/api/v1/environments", {
        params: { query: { state: "running", ...(cursor ? { cursor } : {}) } },
      }),
    );
    // The same path streams Server-Sent Events with watch=1; without it the answer is a JSON page.
    if (typeof page === "string")
      throw new Error("The environment list came back as a stream; reload the page.");
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return out;
}

interface Snapshot {
  runner: RunnerInfo;
  envs: Environment[];
  stats: EnvStats[];
}

async function snapshot(): Promise<Snapshot> {
  const [runner, envs, stats] = await Promise.all([
    unwrap(api.GET("/api/v1/runner")),
    runningEnvironments(),
    unwrap(api.GET("/api/v1/stats")).then((s) => s.items),
  ]);
  return { runner, envs, stats };
}

const sum = <T,>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : "—");

function Capacity({ s }: { s: Snapshot }): JSX.Element {
  const r = s.runner;
  const allocCpus = sum(s.envs, (e) => e.spec.resources.cpus);
  const allocMem = sum(s.envs, (e) => e.spec.resources.memoryBytes);
  const allocDisk = sum(s.envs, (e) => e.spec.resources.diskBytes);
  const usedCpus = sum(s.stats, (x) => x.cpuCores);
  const usedMem = sum(s.stats, (x) => x.memoryWorkingSetBytes);
  const usedDisk = sum(s.stats, (x) => x.diskUsedBytes);
  return (
    <>
      <dl class="facts">
        <dt>Host</dt>
        <dd>
          {r.hostname} <span class="muted">({r.id})</span>
        </dd>
        <dt>Runtimes</dt>
        <dd>{r.runtimes.join(", ")}</dd>
        <dt>cgroups</dt>
        <dd>{r.cgroupMode}</dd>
        <dt>Running environments</dt>
        <dd>{s.envs.length}</dd>
      </dl>
      <ScrollTable label="Capacity and use">
        <table>
          <caption class="visually-hidden">Capacity, allocation and live use</caption>
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Capacity</th>
              <th scope="col">Allocated</th>
              <th scope="col">Used now</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">CPU</th>
              <td>{r.cpus} cores</td>
              <td>
                {formatNumber(allocCpus)} ({pct(allocCpus, r.cpus)})
              </td>
              <td>
                {formatNumber(usedCpus)} cores ({pct(usedCpus, r.cpus)})
              </td>
            </tr>
            <tr>
              <th scope="row">Memory</th>
              <td>{formatBytes(r.memoryBytes)}</td>
              <td>
                {formatBytes(allocMem)} ({pct(allocMem, r.memoryBytes)})
              </td>
              <td>
                {formatBytes(usedMem)} ({pct(usedMem, r.memoryBytes)})
              </td>
            </tr>
            <tr>
              <th scope="row">Disk</th>
              <td>{formatBytes(r.diskFreeBytes)} free</td>
              <td>{formatBytes(allocDisk)}</td>
              <td>{formatBytes(usedDisk)}</td>
            </tr>
          </tbody>
        </table>
      </ScrollTable>
    </>
  );
}

function PerEnvironment({ stats }: { stats: EnvStats[] }): JSX.Element {
  if (stats.length === 0) return <p>No environment is running.</p>;
  const sorted = [...stats].sort((a, b) => b.cpuCores - a.cpuCores);
  return (
    <ScrollTable label="Live use by environment">
      <table>
        <thead>
          <tr>
            <th scope="col">Environment</th>
            <th scope="col">CPU (cores)</th>
            <th scope="col">Memory</th>
            <th scope="col">Disk</th>
            <th scope="col">PIDs</th>
            <th scope="col">PSI cpu/mem/io</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((x) => (
            <tr key={x.id}>
              <td>{x.name ?? x.id}</td>
              <td>{formatNumber(x.cpuCores)}</td>
              <td>
                {formatBytes(x.memoryWorkingSetBytes)} / {formatBytes(x.memoryLimitBytes)}
              </td>
              <td>
                {formatBytes(x.diskUsedBytes)} / {formatBytes(x.diskQuotaBytes)}
              </td>
              <td>
                {x.pids} / {x.pidsLimit}
              </td>
              <td>
                {formatNumber(x.psi.cpu, 1)} / {formatNumber(x.psi.memory, 1)} / {formatNumber(x.psi.io, 1)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollTable>
  );
}

export function RunnersPage(): JSX.Element {
  const state = useLoad(snapshot);
  useEffect(() => {
    const t = setInterval(state.reload, REFRESH_MS);
    return () => clearInterval(t);
  }, [state.reload]);
  return (
    <>
      <PageTitle title="Runners">
        The runner serving this organisation: capacity, what its environments are allocated, and what they use
        now. Refreshed every {REFRESH_MS / 1000} s.
      </PageTitle>
      <Loading state={state}>
        {(s) => (
          <>
            <Section title="Capacity and use">
              <Capacity s={s} />
            </Section>
            <Section title="Live use by environment">
              <PerEnvironment stats={s.stats} />
            </Section>
          </>
        )}
      </Loading>
    </>
  );
}
