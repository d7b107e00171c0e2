// The environments list, live from the watch: state, class, runtime, image or repository, CPU,
// memory, disk (from /api/v1/stats), IP, last activity and idle deadline. A table on a wide
// screen; the same cells stack into cards on a phone (styles.css).
import { useEffect } from "preact/hooks";
import type { Environment } from "../api.ts";
import { StateBadge } from "../components/state-badge.tsx";
import { type EnvStats, refreshDetails, useEnvironments } from "../environments.ts";
import { formatBytes, formatCores, formatIdleStop, formatPercent, formatRelative } from "../format.ts";
import { linkClick } from "../router.ts";

export function EnvironmentsList() {
  const { items, synced, error, stats } = useEnvironments();
  // Usage and idle times are polled; show fresh ones when the list opens, not up to 5 s later.
  useEffect(refreshDetails, []);
  const envs = [...items.values()].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <>
      <div class="page-head">
        <h1>Environments</h1>
        <a class="button" href="/new" onClick={linkClick}>
          New environment
        </a>
      </div>
      {error && (
        <p role="status" class="error">
          Live updates interrupted ({error}); reconnecting…
        </p>
      )}
      {!synced ? (
        <p>Loading…</p>
      ) : envs.length === 0 ? (
        <p>
          No environments yet.{" "}
          <a href="/new" onClick={linkClick}>
            Create one
          </a>
          .
        </p>
      ) : (
        <div class="table-wrap">
          <table class="envs">
            <caption class="visually-hidden">Your environments, updated live</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Class</th>
                <th scope="col">Runtime</th>
                <th scope="col">Image or repository</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Disk</th>
                <th scope="col">IP</th>
                <th scope="col">Last activity</th>
                <th scope="col">Idle stop</th>
              </tr>
            </thead>
            <tbody>
              {envs.map((env) => (
                <EnvRow key={env.id} env={env} stats={stats.get(env.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function EnvRow({ env, stats }: { env: Environment; stats: EnvStats | undefined }) {
  const res = env.spec.resources;
  const running = env.state === "running";
  return (
    <tr data-env={env.name}>
      <th scope="row" data-label="Name">
        <a href={`/env/${encodeURIComponent(env.name)}`} onClick={linkClick}>
          {env.name}
        </a>
      </th>
      <td data-label="State">
        <StateBadge env={env} />
      </td>
      <td data-label="Class">{env.spec.className}</td>
      <td data-label="Runtime">{env.observed?.runtime ?? env.spec.runtime}</td>
      <td data-label="Source" class="source">
        {env.spec.project ?? env.setup?.source.url ?? env.spec.image}
      </td>
      <td data-label="CPU">
        {running && stats ? `${formatCores(stats.cpuCores)} / ${res.cpus}` : `${res.cpus} cores`}
      </td>
      <td data-label="Memory">
        {running && stats
          ? `${formatBytes(stats.memoryWorkingSetBytes)} ${formatPercent(stats.memoryWorkingSetBytes, stats.memoryLimitBytes)}`
          : formatBytes(res.memoryBytes)}
      </td>
      <td data-label="Disk">
        {stats
          ? `${formatBytes(stats.diskUsedBytes)} / ${formatBytes(stats.diskQuotaBytes)}`
          : formatBytes(res.diskBytes)}
      </td>
      <td data-label="IP">{env.observed?.ip ?? "–"}</td>
      <td data-label="Last activity">{formatRelative(env.idle?.lastActivity?.at)}</td>
      <td data-label="Idle stop">{formatIdleStop(env.idle)}</td>
    </tr>
  );
}
