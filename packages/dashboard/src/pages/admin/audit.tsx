// The audit log: the organisation's records, newest first, filtered by actor, action and time,
// a page at a time (the server's cursor; "Older" follows it, "Newer" goes back a page).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import { dayToIso, formatTime } from "../settings/format.ts";
import { inputValue, Loading, PageTitle, ScrollTable, Section, useLoad } from "../settings/kit.tsx";

const PAGE_SIZE = 50;

interface Filters {
  actor: string;
  action: string;
  since: string;
  until: string;
}
const NO_FILTERS: Filters = { actor: "", action: "", since: "", until: "" };

/** The audit query for a set of filters (empty ones left out) and a page cursor. */
export function auditQuery(f: Filters, cursor: string | undefined) {
  const since = dayToIso(f.since);
  const until = dayToIso(f.until, true);
  return {
    limit: PAGE_SIZE,
    ...(f.actor.trim() ? { actor: f.actor.trim() } : {}),
    ...(f.action.trim() ? { action: f.action.trim() } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

export function AuditPage(): JSX.Element {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  // cursors[i] opens page i; page 0 has none.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    () => unwrap(api.GET("/api/v1/audit", { params: { query: auditQuery(applied, cursor) } })),
    [applied, cursor],
  );
  const field = (k: keyof Filters) => (e: Event) => setDraft({ ...draft, [k]: inputValue(e) });
  const apply = (e: Event) => {
    e.preventDefault();
    setApplied(draft);
    setCursors([undefined]);
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setApplied(NO_FILTERS);
    setCursors([undefined]);
  };

  return (
    <>
      <PageTitle title="Audit log">Who did what in this organisation, newest first.</PageTitle>
      <Section title="Filters">
        <form class="form form-filters" onSubmit={apply}>
          <div class="field">
            <label for="audit-actor">Actor (user id)</label>
            <input
              id="audit-actor"
              type="text"
              maxLength={200}
              value={draft.actor}
              onInput={field("actor")}
            />
          </div>
          <div class="field">
            <label for="audit-action">Action</label>
            <input
              id="audit-action"
              type="text"
              maxLength={100}
              placeholder="env.create"
              value={draft.action}
              onInput={field("action")}
            />
          </div>
          <div class="field">
            <label for="audit-since">Since</label>
            <input id="audit-since" type="date" value={draft.since} onInput={field("since")} />
          </div>
          <div class="field">
            <label for="audit-until">Until</label>
            <input id="audit-until" type="date" value={draft.until} onInput={field("until")} />
          </div>
          <div class="form-actions">
            <button type="submit" class="primary">
              Apply filters
            </button>{" "}
            <button type="button" class="secondary" onClick={clear}>
              Clear
            </button>
          </div>
        </form>
      </Section>
      <Section title="Records">
        <Loading state={page}>
          {(p) => (
            <>
              {p.items.length === 0 ? (
                <p>No records match.</p>
              ) : (
                <ScrollTable label="Audit records">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Time</th>
                        <th scope="col">Actor</th>
                        <th scope="col">Action</th>
                        <th scope="col">Target</th>
                        <th scope="col">Result</th>
                        <th scope="col">From</th>
                      </tr>
                    </thead>
                    <tbody>
                      {p.items.map((r) => (
                        <tr key={r.id}>
                          <td>
                            <time dateTime={r.at}>{formatTime(r.at)}</time>
                          </td>
                          <td>
                            <code class="wrap">{r.actor}</code>
                          </td>
                          <td>{r.action}</td>
                          <td>
                            <span class="wrap">{r.target}</span>
                          </td>
                          <td class={`result-${r.result}`}>
                            {r.result}
                            {r.code ? ` (${r.code})` : ""}
                          </td>
                          <td>{r.sourceAddress}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </ScrollTable>
              )}
              <nav class="pager" aria-label="Audit log pages">
                <button
                  type="button"
                  class="secondary"
                  disabled={cursors.length <= 1 || page.loading}
                  onClick={() => setCursors(cursors.slice(0, -1))}
                >
                  Newer
                </button>
                <span>Page {cursors.length}</span>
                <button
                  type="button"
                  class="secondary"
                  disabled={!p.nextCursor || page.loading}
                  onClick={() => setCursors([...cursors, p.nextCursor])}
                >
                  Older
                </button>
              </nav>
            </>
          )}
        </Loading>
      </Section>
    </>
  );
}
