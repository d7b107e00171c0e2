// One environment: overview (state, resources, setup steps, actions, resize, ports, ssh), its
// terminal and its log, as three tabs with their own paths so a link opens the right one.
import { EnvActions, ResizeForm } from "../components/env-actions.tsx";
import { LazyTerminal } from "../components/lazy-terminal.tsx";
import { Logs } from "../components/logs.tsx";
import { Ports } from "../components/ports.tsx";
import { SetupProgress } from "../components/setup-progress.tsx";
import { SshInfo } from "../components/ssh-info.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { useEnvironment, useEnvironments } from "../environments.ts";
import { formatBytes, formatCores, formatIdleStop, formatRelative } from "../format.ts";
import { linkClick } from "../router.ts";

type Tab = "overview" | "terminal" | "logs";

export function EnvironmentPage({ name, tab }: { name: string; tab: Tab }) {
  const { env, synced } = useEnvironment(name);
  const { stats } = useEnvironments();
  if (!env) return synced ? <NotFound name={name} /> : <p>Loading…</p>;
  const base = `/env/${encodeURIComponent(name)}`;
  const tabs: [Tab, string, string][] = [
    ["overview", "Overview", base],
    ["terminal", "Terminal", `${base}/terminal`],
    ["logs", "Log", `${base}/logs`],
  ];
  const s = stats.get(env.id);
  const running = env.state === "running";
  return (
    <>
      <div class="page-head">
        <h1>{env.name}</h1>
        <StateBadge env={env} />
      </div>
      <nav aria-label="Environment" class="tabs">
        {tabs.map(([t, label, href]) => (
          <a key={t} href={href} onClick={linkClick} aria-current={t === tab ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {tab === "overview" && (
        <>
          <EnvActions env={env} />
          <dl class="facts">
            <dt>Class</dt>
            <dd>{env.spec.className}</dd>
            <dt>Runtime</dt>
            <dd>{env.observed?.runtime ?? env.spec.runtime}</dd>
            <dt>Image</dt>
            <dd>{env.spec.image}</dd>
            {env.spec.project && (
              <>
                <dt>Repository</dt>
                <dd>{env.spec.project}</dd>
              </>
            )}
            <dt>CPU</dt>
            <dd>
              {running && s ? `${formatCores(s.cpuCores)} of ` : ""}
              {env.spec.resources.cpus} cores
            </dd>
            <dt>Memory</dt>
            <dd>
              {running && s ? `${formatBytes(s.memoryWorkingSetBytes)} of ` : ""}
              {formatBytes(env.spec.resources.memoryBytes)}
            </dd>
            <dt>Disk</dt>
            <dd>
              {s ? `${formatBytes(s.diskUsedBytes)} of ` : ""}
              {formatBytes(env.spec.resources.diskBytes)}
            </dd>
            <dt>IP</dt>
            <dd>{env.observed?.ip ?? "–"}</dd>
            <dt>Last activity</dt>
            <dd>{formatRelative(env.idle?.lastActivity?.at)}</dd>
            <dt>Idle stop</dt>
            <dd>{formatIdleStop(env.idle)}</dd>
          </dl>
          {env.state === "failed" && (
            <p class="error" role="alert">
              {env.conditions.find((c) => c.status === "False")?.message ??
                env.observed?.reason ??
                "It failed."}
            </p>
          )}
          <SetupProgress env={env} />
          <section aria-labelledby="resize-h">
            <h2 id="resize-h">Resize</h2>
            <ResizeForm key={`${env.spec.resources.cpus}/${env.spec.resources.memoryBytes}`} env={env} />
          </section>
          <Ports name={env.name} running={running} />
          <SshInfo name={env.name} />
        </>
      )}
      {tab === "terminal" &&
        (running ? (
          <LazyTerminal name={env.name} />
        ) : (
          <p>
            {env.name} is {env.state}. Start it on the{" "}
            <a href={base} onClick={linkClick}>
              overview
            </a>{" "}
            to open a terminal.
          </p>
        ))}
      {tab === "logs" && (
        <>
          <SetupProgress env={env} />
          <Logs name={env.name} />
        </>
      )}
    </>
  );
}

function NotFound({ name }: { name: string }) {
  return (
    <>
      <h1>No environment named {name}</h1>
      <p>
        It may have been deleted. Back to{" "}
        <a href="/" onClick={linkClick}>
          your environments
        </a>
        .
      </p>
    </>
  );
}
