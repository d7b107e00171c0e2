// Organisation policies, whatever the API lets an admin set: whether ports may be public, the
// longest idle timeout environments may ask for, and the longest token lifetime. Per-class egress
// is shown here too (set when a class is created), and the fixed devcontainer policy is stated.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import { useSession } from "../../session.ts";
import { durationArg, formatSeconds } from "../settings/format.ts";
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
import { egressText } from "./classes.tsx";
import { getQuotas, numberOrNull, orNull, type QuotaView, setQuotas } from "./quota-api.ts";

interface Draft {
  publicPorts: "allow" | "deny";
  maxIdleTimeout: string;
  tokenMaxDays: string;
}
const draftOf = (v: QuotaView): Draft => ({
  publicPorts: v.quotas.publicPorts,
  maxIdleTimeout: durationArg(v.quotas.maxIdleTimeoutSeconds),
  tokenMaxDays: v.quotas.tokenMaxDays === null ? "" : String(v.quotas.tokenMaxDays),
});

export function PoliciesPage(): JSX.Element {
  const org = useSession().session?.org ?? "";
  const view = useLoad(() => getQuotas(org), [org]);
  const classes = useLoad(async () => (await unwrap(api.GET("/api/v1/classes"))).items);
  const act = useAction();
  const [d, setD] = useState<Draft>({ publicPorts: "deny", maxIdleTimeout: "", tokenMaxDays: "" });
  useEffect(() => {
    if (view.data) setD(draftOf(view.data));
  }, [view.data]);

  const save = async (e: Event) => {
    e.preventDefault();
    const body = {
      publicPorts: d.publicPorts,
      maxIdleTimeout: orNull(d.maxIdleTimeout),
      tokenMaxDays: numberOrNull(d.tokenMaxDays),
    };
    if (await act.run(() => setQuotas(org, body), "Policies saved.")) view.reload();
  };

  return (
    <>
      <PageTitle title="Policies">
        What {org || "the organisation"}'s members may do with their environments.
      </PageTitle>
      <Section title="Organisation policies">
        <Loading state={view}>
          {(v) => (
            <form class="form form-grid" onSubmit={save}>
              <fieldset class="radio-row">
                <legend>Public ports (anyone with the URL)</legend>
                <label>
                  <input
                    type="radio"
                    name="public-ports"
                    checked={d.publicPorts === "deny"}
                    onChange={() => setD({ ...d, publicPorts: "deny" })}
                  />{" "}
                  Deny
                </label>
                <label>
                  <input
                    type="radio"
                    name="public-ports"
                    checked={d.publicPorts === "allow"}
                    onChange={() => setD({ ...d, publicPorts: "allow" })}
                  />{" "}
                  Allow
                </label>
              </fieldset>
              <label for="policy-idle">Longest idle timeout</label>
              <input
                id="policy-idle"
                type="text"
                placeholder="no limit (e.g. 8h)"
                aria-describedby="policy-idle-help"
                value={d.maxIdleTimeout}
                onInput={(e) => setD({ ...d, maxIdleTimeout: inputValue(e) })}
              />
              <p id="policy-idle-help" class="help">
                Now:{" "}
                {v.quotas.maxIdleTimeoutSeconds === null
                  ? "no limit"
                  : formatSeconds(v.quotas.maxIdleTimeoutSeconds)}
                . Environments may not ask to stay up idle for longer.
              </p>
              <label for="policy-token-days">Longest token lifetime (days)</label>
              <input
                id="policy-token-days"
                type="number"
                min={1}
                step={1}
                placeholder="no limit"
                value={d.tokenMaxDays}
                onInput={(e) => setD({ ...d, tokenMaxDays: inputValue(e) })}
              />
              <div class="form-actions">
                <button type="submit" class="primary" disabled={act.busy}>
                  Save policies
                </button>
              </div>
            </form>
          )}
        </Loading>
        <ErrorNote error={act.error} />
        <StatusNote text={act.status} />
      </Section>
      <Section title="Egress by class">
        <Loading state={classes}>
          {(items) => (
            <ul class="plain-list">
              {items.map((c) => (
                <li key={c.name}>
                  <strong>{c.name}</strong>: {egressText(c.egress)}
                </li>
              ))}
            </ul>
          )}
        </Loading>
        <p class="help">
          A class's egress is set when it is created (the Classes page, or{" "}
          <code>warren class create --egress</code>).
        </p>
      </Section>
      <Section title="Devcontainer policy">
        <p>
          Always enforced: a devcontainer.json, image or Feature that asks for privileged mode, host mounts,
          added capabilities, security options or raw run arguments is refused.
        </p>
      </Section>
    </>
  );
}
