// Organisation quotas: total CPUs, memory and disk over its environments, and running
// environments per user, beside what is in use now. An empty field is unlimited.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useSession } from "../../session.ts";
import { formatBytes, formatNumber, sizeArg } from "../settings/format.ts";
import {
  ErrorNote,
  inputValue,
  Loading,
  PageTitle,
  Section,
  StatusNote,
  useAction,
  useLoad,
} from "../settings/kit.tsx";
import { getQuotas, numberOrNull, orNull, type QuotaView, setQuotas } from "./quota-api.ts";

interface Draft {
  cpus: string;
  memory: string;
  disk: string;
  userMaxRunning: string;
}
const draftOf = (v: QuotaView): Draft => ({
  cpus: v.quotas.cpus === null ? "" : String(v.quotas.cpus),
  memory: sizeArg(v.quotas.memoryBytes),
  disk: sizeArg(v.quotas.diskBytes),
  userMaxRunning: v.quotas.userMaxRunning === null ? "" : String(v.quotas.userMaxRunning),
});

function UsageBar(props: { label: string; used: number; limit: number | null; text: (n: number) => string }) {
  const pct = props.limit ? Math.min(100, Math.round((props.used / props.limit) * 100)) : undefined;
  return (
    <div class="quota-row">
      <span class="quota-label">{props.label}</span>
      <span>
        {props.text(props.used)} of {props.limit === null ? "unlimited" : props.text(props.limit)}
        {pct === undefined ? "" : ` (${pct}%)`}
      </span>
      {pct === undefined ? null : (
        <progress max={100} value={pct} aria-label={`${props.label}: ${pct}% of the quota in use`} />
      )}
    </div>
  );
}

export function QuotasPage(): JSX.Element {
  const org = useSession().session?.org ?? "";
  const view = useLoad(() => getQuotas(org), [org]);
  const act = useAction();
  const [d, setD] = useState<Draft>({ cpus: "", memory: "", disk: "", userMaxRunning: "" });
  useEffect(() => {
    if (view.data) setD(draftOf(view.data));
  }, [view.data]);
  const field = (k: keyof Draft) => (e: Event) => setD({ ...d, [k]: inputValue(e) });

  const save = async (e: Event) => {
    e.preventDefault();
    const body = {
      cpus: numberOrNull(d.cpus),
      memory: orNull(d.memory),
      disk: orNull(d.disk),
      userMaxRunning: numberOrNull(d.userMaxRunning),
    };
    if (await act.run(() => setQuotas(org, body), "Quotas saved.")) view.reload();
  };

  return (
    <>
      <PageTitle title="Quotas">
        Limits over all of {org || "the organisation"}'s environments that are not stopped. Empty means
        unlimited.
      </PageTitle>
      <Section title="In use now">
        <Loading state={view}>
          {(v) => (
            <>
              <UsageBar
                label="CPUs"
                used={v.usage.cpus}
                limit={v.quotas.cpus}
                text={(n) => formatNumber(n)}
              />
              <UsageBar
                label="Memory"
                used={v.usage.memoryBytes}
                limit={v.quotas.memoryBytes}
                text={(n) => formatBytes(n)}
              />
              <UsageBar
                label="Disk"
                used={v.usage.diskBytes}
                limit={v.quotas.diskBytes}
                text={(n) => formatBytes(n)}
              />
              <p>
                Running environments per user:{" "}
                {v.quotas.userMaxRunning === null ? "unlimited" : v.quotas.userMaxRunning}
              </p>
            </>
          )}
        </Loading>
      </Section>
      <Section title="Set quotas">
        <form class="form form-grid" onSubmit={save}>
          <label for="quota-cpus">CPUs</label>
          <input
            id="quota-cpus"
            type="number"
            min={0.1}
            step={0.1}
            placeholder="unlimited"
            value={d.cpus}
            onInput={field("cpus")}
          />
          <label for="quota-memory">Memory</label>
          <input
            id="quota-memory"
            type="text"
            placeholder="unlimited (e.g. 64Gi)"
            value={d.memory}
            onInput={field("memory")}
          />
          <label for="quota-disk">Disk</label>
          <input
            id="quota-disk"
            type="text"
            placeholder="unlimited (e.g. 500Gi)"
            value={d.disk}
            onInput={field("disk")}
          />
          <label for="quota-user-running">Running environments per user</label>
          <input
            id="quota-user-running"
            type="number"
            min={0}
            step={1}
            placeholder="unlimited"
            value={d.userMaxRunning}
            onInput={field("userMaxRunning")}
          />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !view.data}>
              Save quotas
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
