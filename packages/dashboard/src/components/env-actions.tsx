// Start, stop, delete and resize an environment. Each answer comes back through the watch too,
// so the page updates whichever tab made the change.
import { useState } from "preact/hooks";
import { api, type Environment, errorMessage, unwrap } from "../api.ts";
import { navigate } from "../router.ts";

export function EnvActions({ env }: { env: Environment }) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const params = { params: { path: { name: env.name } } };
  const run = async (label: string, fn: () => Promise<unknown>) => {
    setBusy(label);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(undefined);
    }
  };
  const stoppable = env.desired === "running" && env.state !== "stopped";
  return (
    <div class="actions">
      {stoppable ? (
        <button
          type="button"
          disabled={busy !== undefined}
          onClick={() =>
            void run("Stopping…", () => unwrap(api.POST("/api/v1/environments/{name}/stop", params)))
          }
        >
          Stop
        </button>
      ) : (
        <button
          type="button"
          disabled={busy !== undefined}
          onClick={() =>
            void run("Starting…", () => unwrap(api.POST("/api/v1/environments/{name}/start", params)))
          }
        >
          Start
        </button>
      )}
      <button
        type="button"
        class="danger"
        disabled={busy !== undefined}
        onClick={() => {
          if (!confirm(`Delete ${env.name} and its disk? This cannot be undone.`)) return;
          void run("Deleting…", async () => {
            await unwrap(
              api.DELETE("/api/v1/environments/{name}", {
                params: { path: { name: env.name }, query: { force: "1" } },
              }),
            );
            navigate("/");
          });
        }}
      >
        Delete
      </button>
      {busy && <span role="status">{busy}</span>}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </div>
  );
}

/** Resize: CPUs and memory change live; the server refuses what the class's bounds do not allow. */
export function ResizeForm({ env }: { env: Environment }) {
  const res = env.spec.resources;
  const [cpus, setCpus] = useState(String(res.cpus));
  const [memory, setMemory] = useState(String(res.memoryBytes / 2 ** 30));
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setStatus("Resizing…");
    try {
      const gibs = Number(memory);
      await unwrap(
        api.PATCH("/api/v1/environments/{name}", {
          params: { path: { name: env.name } },
          body: { cpus: Number(cpus), memory: `${Math.round(gibs * 1024)}m` },
        }),
      );
      setStatus("Resized.");
    } catch (err) {
      setStatus(undefined);
      setError(errorMessage(err));
    }
  };
  return (
    <form class="resize" onSubmit={(e) => void submit(e)}>
      <div class="field">
        <label for="cpus">CPUs</label>
        <input
          id="cpus"
          type="number"
          min="0.1"
          step="0.1"
          value={cpus}
          onInput={(e) => setCpus(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="memory">Memory (GiB)</label>
        <input
          id="memory"
          type="number"
          min="0.125"
          step="0.125"
          value={memory}
          onInput={(e) => setMemory(e.currentTarget.value)}
        />
      </div>
      <button type="submit">Resize</button>
      {status && <span role="status">{status}</span>}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </form>
  );
}
