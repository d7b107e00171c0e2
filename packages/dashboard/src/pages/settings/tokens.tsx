// Personal API tokens: list, create (the secret is shown once, here, and never again), revoke.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import type { Item, Reply } from "./api-types.ts";
import { formatTime } from "./format.ts";
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
} from "./kit.tsx";

type TokenInfo = Item<"/api/v1/tokens">;
type CreatedToken = Reply<"/api/v1/tokens", "post">;
/** A token that may read /metrics and nothing else (for a Prometheus scrape job). */
const METRICS_SCOPE = "metrics:read";

function tokenState(t: TokenInfo, now: number): string {
  if (t.revokedAt) return `revoked ${formatTime(t.revokedAt)}`;
  if (Date.parse(t.expiresAt) <= now) return "expired";
  return "active";
}

export function TokensPage(): JSX.Element {
  const tokens = useLoad(async () => (await unwrap(api.GET("/api/v1/tokens"))).items);
  const act = useAction();
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [metricsOnly, setMetricsOnly] = useState(false);
  const [created, setCreated] = useState<(CreatedToken & { name: string }) | undefined>(undefined);
  const [copied, setCopied] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    const expiresInDays = days.trim() ? Number(days) : undefined;
    let made: CreatedToken | undefined;
    const ok = await act.run(async () => {
      const scopes = metricsOnly ? [METRICS_SCOPE] : undefined;
      made = await unwrap(api.POST("/api/v1/tokens", { body: { name: name.trim(), expiresInDays, scopes } }));
    }, "Token created. Copy it now: it is not shown again.");
    if (ok && made) {
      setCreated({ ...made, name: name.trim() });
      setCopied(false);
      setName("");
      tokens.reload();
    }
  };
  const revoke = (t: TokenInfo) =>
    act
      .run(
        () => unwrap(api.DELETE("/api/v1/tokens/{id}", { params: { path: { id: t.id } } })),
        `Token ${t.name} revoked.`,
      )
      .then(tokens.reload);
  const copy = async () => {
    if (!created) return;
    await navigator.clipboard.writeText(created.token).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };

  const now = Date.now();
  return (
    <>
      <PageTitle title="API tokens">
        Tokens let the CLI (<code>warren login URL --token …</code>) and scripts act as you. Revoking one ends
        every session it opened.
      </PageTitle>
      {created ? (
        <section class="card card-secret" aria-labelledby="new-token-heading">
          <h2 id="new-token-heading">New token “{created.name}”</h2>
          <p>This is the only time the secret is shown. It expires {formatTime(created.expiresAt)}.</p>
          <label for="new-token-secret">Secret</label>
          <input id="new-token-secret" type="text" readOnly value={created.token} class="mono" />
          <div class="form-actions">
            <button type="button" class="secondary" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </button>{" "}
            <button type="button" class="secondary" onClick={() => setCreated(undefined)}>
              Done, hide it
            </button>
          </div>
        </section>
      ) : null}
      <Section title="Your tokens">
        <Loading state={tokens}>
          {(items) =>
            items.length === 0 ? (
              <p>No tokens.</p>
            ) : (
              <ScrollTable label="Your tokens">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Access</th>
                      <th scope="col">Created</th>
                      <th scope="col">Expires</th>
                      <th scope="col">State</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((t) => {
                      const state = tokenState(t, now);
                      return (
                        <tr key={t.id}>
                          <td>{t.name}</td>
                          <td>{t.kind}</td>
                          <td>{t.scopes.length === 0 ? "full" : t.scopes.join(", ")}</td>
                          <td>{formatTime(t.createdAt)}</td>
                          <td>{formatTime(t.expiresAt)}</td>
                          <td>{state}</td>
                          <td>
                            {state === "active" ? (
                              <ConfirmButton
                                label="Revoke"
                                what={`token ${t.name}`}
                                onConfirm={() => revoke(t)}
                              />
                            ) : null}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </ScrollTable>
            )
          }
        </Loading>
      </Section>
      <Section title="Create a token">
        <form onSubmit={create} class="form">
          <label for="token-name">Name</label>
          <input
            id="token-name"
            type="text"
            required
            maxLength={200}
            placeholder="laptop CLI"
            value={name}
            onInput={(e) => setName(inputValue(e))}
          />
          <label for="token-days">Expires in (days)</label>
          <input
            id="token-days"
            type="number"
            min={1}
            step={1}
            inputMode="numeric"
            aria-describedby="token-days-help"
            value={days}
            onInput={(e) => setDays(inputValue(e))}
          />
          <p id="token-days-help" class="help">
            Empty: as long as allowed (the organisation's limit, and never past the token you signed in with).
          </p>
          <label class="check">
            <input
              type="checkbox"
              checked={metricsOnly}
              onChange={(e) => setMetricsOnly(e.currentTarget.checked)}
            />{" "}
            Metrics only (<code>{METRICS_SCOPE}</code>): reads /metrics for Prometheus, nothing else
          </label>
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !name.trim()}>
              Create token
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
