// Classes: the resource shapes environments are made from. List, create, remove (built-in ones
// and classes in use cannot be removed; the server says which).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import type { Item } from "../settings/api-types.ts";
import { formatBytes, formatSeconds } from "../settings/format.ts";
import {
  ConfirmButton,
  ErrorNote,
  inputValue,
  Loading,
  PageTitle,
  ScrollTable,
  Section,
  StatusNote,
  useAction,
  useLoad,
} from "../settings/kit.tsx";

type ClassSpec = Item<"/api/v1/classes">;
const RUNTIMES = ["runc", "crun", "gvisor"] as const;

export function egressText(e: ClassSpec["egress"]): string {
  if (e.mode === "all") return "all";
  if (e.mode === "none") return "none";
  return `allow ${e.cidrs.join(", ")}`;
}

interface Draft {
  name: string;
  cpus: string;
  memory: string;
  disk: string;
  runtime: string;
  egress: string;
  idleTimeout: string;
}
const EMPTY: Draft = {
  name: "",
  cpus: "2",
  memory: "4Gi",
  disk: "20Gi",
  runtime: "",
  egress: "",
  idleTimeout: "",
};

export function ClassesPage(): JSX.Element {
  const classes = useLoad(async () => (await unwrap(api.GET("/api/v1/classes"))).items);
  const act = useAction();
  const [d, setD] = useState<Draft>(EMPTY);
  const field = (k: keyof Draft) => (e: Event) => setD({ ...d, [k]: inputValue(e) });

  const create = async (e: Event) => {
    e.preventDefault();
    const runtime = RUNTIMES.find((r) => r === d.runtime);
    const body = {
      name: d.name.trim(),
      cpus: Number(d.cpus),
      memory: d.memory.trim(),
      disk: d.disk.trim(),
      ...(runtime ? { runtime } : {}),
      ...(d.egress.trim() ? { egress: d.egress.trim() } : {}),
      ...(d.idleTimeout.trim() ? { idleTimeout: d.idleTimeout.trim() } : {}),
    };
    if (await act.run(() => unwrap(api.POST("/api/v1/classes", { body })), `Class ${body.name} created.`)) {
      setD(EMPTY);
      classes.reload();
    }
  };
  const remove = (c: ClassSpec) =>
    act
      .run(
        () => unwrap(api.DELETE("/api/v1/classes/{name}", { params: { path: { name: c.name } } })),
        `Class ${c.name} removed.`,
      )
      .then(classes.reload);

  return (
    <>
      <PageTitle title="Classes">
        Resource shapes environments are created from: CPUs, memory, disk and runtime.
      </PageTitle>
      <Section title="All classes">
        <Loading state={classes}>
          {(items) => (
            <ScrollTable label="Classes">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">CPUs</th>
                    <th scope="col">Memory</th>
                    <th scope="col">Disk</th>
                    <th scope="col">Runtime</th>
                    <th scope="col">Egress</th>
                    <th scope="col">Idle stop</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((c) => (
                    <tr key={c.name}>
                      <td>
                        {c.name}
                        {c.builtin ? " (built-in)" : ""}
                      </td>
                      <td>
                        {c.cpus} (max {c.maxCpus})
                      </td>
                      <td>
                        {formatBytes(c.memoryBytes)} (max {formatBytes(c.maxMemoryBytes)})
                      </td>
                      <td>
                        {formatBytes(c.diskBytes)} (max {formatBytes(c.maxDiskBytes)})
                      </td>
                      <td>{c.runtime ?? "default"}</td>
                      <td>{egressText(c.egress)}</td>
                      <td>
                        {c.idleTimeoutSeconds === null
                          ? "never"
                          : formatSeconds(c.idleTimeoutSeconds, "default")}
                      </td>
                      <td>
                        {c.builtin ? null : (
                          <ConfirmButton
                            label="Remove"
                            what={`class ${c.name}`}
                            onConfirm={() => remove(c)}
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollTable>
          )}
        </Loading>
      </Section>
      <Section title="Create a class">
        <form class="form form-grid" onSubmit={create}>
          <label for="class-name">Name</label>
          <input id="class-name" type="text" required maxLength={63} value={d.name} onInput={field("name")} />
          <label for="class-cpus">CPUs</label>
          <input
            id="class-cpus"
            type="number"
            required
            min={0.1}
            step={0.1}
            value={d.cpus}
            onInput={field("cpus")}
          />
          <label for="class-memory">Memory</label>
          <input
            id="class-memory"
            type="text"
            required
            placeholder="4Gi"
            value={d.memory}
            onInput={field("memory")}
          />
          <label for="class-disk">Disk</label>
          <input
            id="class-disk"
            type="text"
            required
            placeholder="20Gi"
            value={d.disk}
            onInput={field("disk")}
          />
          <label for="class-runtime">Runtime</label>
          <select id="class-runtime" value={d.runtime} onChange={field("runtime")}>
            <option value="">default</option>
            <option value="runc">runc</option>
            <option value="crun">crun</option>
            <option value="gvisor">gvisor (stronger isolation)</option>
          </select>
          <label for="class-egress">Egress (optional)</label>
          <input
            id="class-egress"
            type="text"
            placeholder="all, none, or CIDRs: 10.0.0.0/8,1.1.1.1/32"
            aria-describedby="class-egress-help"
            value={d.egress}
            onInput={field("egress")}
          />
          <p id="class-egress-help" class="help">
            Where its environments may connect; empty: everywhere.
          </p>
          <label for="class-idle">Idle stop (optional)</label>
          <input
            id="class-idle"
            type="text"
            placeholder="30m, 8h, never"
            value={d.idleTimeout}
            onInput={field("idleTimeout")}
          />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !d.name.trim()}>
              Create class
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
