// User secrets: names and kinds are listed; values are write-only (set or replace, never read
// back). Organisation and project secrets the caller can see are listed for reference; admins
// manage those with the CLI.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, unwrap } from "../../api.ts";
import type { Item } from "./api-types.ts";
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

type SecretInfo = Item<"/api/v1/secrets">;
type Kind = "env" | "file";

export function SecretsPage(): JSX.Element {
  const secrets = useLoad(async () => (await unwrap(api.GET("/api/v1/secrets"))).items);
  const act = useAction();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Kind>("env");
  const [path, setPath] = useState("");
  const [value, setValue] = useState("");

  const save = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    const body = { value, kind, ...(kind === "file" && path.trim() ? { path: path.trim() } : {}) };
    const ok = await act.run(
      () =>
        unwrap(
          api.PUT("/api/v1/secrets/{scope}/{name}", { params: { path: { scope: "user", name: n } }, body }),
        ),
      `Secret ${n} saved. Running environments get it on their next start.`,
    );
    // The value leaves the page's memory as soon as the server has it.
    setValue("");
    if (ok) {
      setName("");
      setPath("");
      secrets.reload();
    }
  };
  const remove = (s: SecretInfo) =>
    act
      .run(
        () =>
          unwrap(
            api.DELETE("/api/v1/secrets/{scope}/{name}", {
              params: { path: { scope: "user", name: s.name } },
            }),
          ),
        `Secret ${s.name} removed.`,
      )
      .then(secrets.reload);
  const replace = (s: SecretInfo) => {
    setName(s.name);
    setKind(s.kind);
    setPath(s.path ?? "");
    setValue("");
    document.getElementById("secret-value")?.focus();
  };

  return (
    <>
      <PageTitle title="Secrets">
        Your secrets reach every environment you start, as environment variables or files. Values are
        write-only: they are never shown again, only replaced.
      </PageTitle>
      <Loading state={secrets}>
        {(items) => {
          const mine = items.filter((s) => s.scope === "user");
          const shared = items.filter((s) => s.scope !== "user");
          return (
            <>
              <Section title="Your secrets">
                {mine.length === 0 ? (
                  <p>No user secrets yet.</p>
                ) : (
                  <ScrollTable label="Your secrets">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">Name</th>
                          <th scope="col">Kind</th>
                          <th scope="col">Path</th>
                          <th scope="col">Updated</th>
                          <th scope="col">
                            <span class="visually-hidden">Actions</span>
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {mine.map((s) => (
                          <tr key={s.name}>
                            <td>
                              <code>{s.name}</code>
                            </td>
                            <td>{s.kind}</td>
                            <td>
                              {s.kind === "file" ? <code>{s.path ?? `/run/secrets/${s.name}`}</code> : "—"}
                            </td>
                            <td>{formatTime(s.updatedAt)}</td>
                            <td class="actions">
                              <button
                                type="button"
                                class="secondary"
                                aria-label={`Replace the value of ${s.name}`}
                                onClick={() => replace(s)}
                              >
                                Replace
                              </button>{" "}
                              <ConfirmButton
                                label="Remove"
                                what={`secret ${s.name}`}
                                onConfirm={() => remove(s)}
                              />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </ScrollTable>
                )}
              </Section>
              {shared.length > 0 ? (
                <Section title="Shared with you">
                  <ul class="plain-list">
                    {shared.map((s) => (
                      <li key={`${s.scope}:${s.project ?? ""}:${s.name}`}>
                        <code>{s.name}</code> ({s.kind}, {s.scope}
                        {s.project ? ` ${s.project}` : ""})
                      </li>
                    ))}
                  </ul>
                </Section>
              ) : null}
            </>
          );
        }}
      </Loading>
      <Section title="Set a secret">
        <form onSubmit={save} class="form" autocomplete="off">
          <label for="secret-name">Name</label>
          <input
            id="secret-name"
            type="text"
            required
            maxLength={128}
            spellcheck={false}
            placeholder="NPM_TOKEN"
            value={name}
            onInput={(e) => setName(inputValue(e))}
          />
          <fieldset class="radio-row">
            <legend>Kind</legend>
            <label>
              <input
                type="radio"
                name="secret-kind"
                checked={kind === "env"}
                onChange={() => setKind("env")}
              />{" "}
              Environment variable
            </label>
            <label>
              <input
                type="radio"
                name="secret-kind"
                checked={kind === "file"}
                onChange={() => setKind("file")}
              />{" "}
              File
            </label>
          </fieldset>
          {kind === "file" ? (
            <>
              <label for="secret-path">Path (optional)</label>
              <input
                id="secret-path"
                type="text"
                maxLength={256}
                spellcheck={false}
                placeholder="/run/secrets/NAME"
                value={path}
                onInput={(e) => setPath(inputValue(e))}
              />
            </>
          ) : null}
          <label for="secret-value">Value</label>
          <textarea
            id="secret-value"
            rows={kind === "file" ? 5 : 2}
            required
            spellcheck={false}
            autocomplete="off"
            class="mono secret-input"
            value={value}
            onInput={(e) => setValue(inputValue(e))}
          />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !name.trim() || !value}>
              Save secret
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
