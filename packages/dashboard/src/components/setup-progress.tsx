// A repository environment's setup, step by step (clone, configure, build, hooks), live from
// the watch: the phase, each lifecycle hook's state and exit code, and the last message.
import type { Environment } from "../api.ts";

const PHASES = ["clone", "configure", "build", "restart", "hooks", "ready"] as const;

export function SetupProgress({ env }: { env: Environment }) {
  const s = env.setup;
  if (!s) return null;
  const at = PHASES.indexOf(s.phase as (typeof PHASES)[number]);
  return (
    <section aria-labelledby="setup-h">
      <h2 id="setup-h">Setup</h2>
      <p>
        {s.source.url ?? "uploaded folder"}
        {s.source.branch ? ` (${s.source.branch})` : ""} → <code>{s.workspaceFolder}</code>
      </p>
      <ol class="steps">
        {PHASES.map((p, i) => {
          const state =
            s.phase === "failed" && i === Math.max(at, 0)
              ? "failed"
              : s.phase === "ready" || (at >= 0 && i < at)
                ? "done"
                : i === at
                  ? "running"
                  : "waiting";
          return (
            <li key={p} class={`step step-${state}`} aria-current={state === "running" ? "step" : undefined}>
              {p} <span class="visually-hidden">({state})</span>
            </li>
          );
        })}
      </ol>
      {s.phase === "failed" && <p class="error">Setup failed.</p>}
      {s.message && <p class="help">{s.message}</p>}
      {s.hooks.length > 0 && (
        <table>
          <caption>Lifecycle hooks</caption>
          <thead>
            <tr>
              <th scope="col">Hook</th>
              <th scope="col">State</th>
              <th scope="col">Exit code</th>
            </tr>
          </thead>
          <tbody>
            {s.hooks.map((h) => (
              <tr key={h.name}>
                <td>{h.name}</td>
                <td>{h.state}</td>
                <td>{h.exitCode ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
