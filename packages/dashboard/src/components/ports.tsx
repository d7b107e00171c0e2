// The environment's ports: what listens, its URL on the port proxy, and who may open it
// (private, org, public where the organisation allows public ports).
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, unwrap } from "../api.ts";

type PortList = Awaited<ReturnType<typeof loadPorts>>;
type Visibility = "private" | "org" | "public";
const REFRESH_MS = 5000;

const loadPorts = (name: string) =>
  unwrap(api.GET("/api/v1/environments/{name}/ports", { params: { path: { name } } }));

export function Ports({ name, running }: { name: string; running: boolean }) {
  const [ports, setPorts] = useState<PortList>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    loadPorts(name).then(
      (p) => {
        if (!live) return;
        setPorts(p);
        setError(undefined);
      },
      (err: unknown) => {
        if (live) setError(errorMessage(err));
      },
    );
    const t = running ? setTimeout(() => setTick((n) => n + 1), REFRESH_MS) : undefined;
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [name, running, tick]);

  const setVisibility = async (port: number, visibility: Visibility) => {
    try {
      await unwrap(
        api.PUT("/api/v1/environments/{name}/ports/{port}", {
          params: { path: { name, port: String(port) } },
          body: { visibility },
        }),
      );
      setTick((n) => n + 1);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <section aria-labelledby="ports-h">
      <h2 id="ports-h">Ports</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!ports ? (
        <p>Loading…</p>
      ) : ports.items.length === 0 ? (
        <p>{ports.running ? "Nothing listens on a port yet." : "Start the environment to see its ports."}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Port</th>
                <th scope="col">Process</th>
                <th scope="col">URL</th>
                <th scope="col">Visibility</th>
              </tr>
            </thead>
            <tbody>
              {ports.items.map((p) => (
                <tr key={p.port}>
                  <td data-label="Port">
                    {p.port}
                    {p.label ? ` (${p.label})` : ""}
                    {p.listening ? "" : " · not listening"}
                  </td>
                  <td data-label="Process">{p.process ?? ""}</td>
                  <td data-label="URL">
                    {p.url ? (
                      <a href={p.url} target="_blank" rel="noopener noreferrer">
                        {p.url}
                      </a>
                    ) : (
                      "–"
                    )}
                  </td>
                  <td data-label="Visibility">
                    <select
                      aria-label={`Visibility of port ${p.port}`}
                      value={p.visibility}
                      onChange={(e) => void setVisibility(p.port, e.currentTarget.value as Visibility)}
                    >
                      <option value="private">private (only you)</option>
                      <option value="org">org (members)</option>
                      <option value="public" disabled={ports.publicPorts === "deny"}>
                        public{ports.publicPorts === "deny" ? " (not allowed)" : ""}
                      </option>
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
