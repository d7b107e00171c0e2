// SSH keys for the SSH gateway: list, add (paste a public key), remove.
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

type SshKey = Item<"/api/v1/ssh-keys">;

export function SshKeysPage(): JSX.Element {
  const keys = useLoad(async () => (await unwrap(api.GET("/api/v1/ssh-keys"))).items);
  const act = useAction();
  const [publicKey, setPublicKey] = useState("");
  const [name, setName] = useState("");

  const add = async (e: Event) => {
    e.preventDefault();
    const body = { publicKey: publicKey.trim(), ...(name.trim() ? { name: name.trim() } : {}) };
    const ok = await act.run(() => unwrap(api.POST("/api/v1/ssh-keys", { body })), "Key added.");
    if (ok) {
      setPublicKey("");
      setName("");
      keys.reload();
    }
  };
  const remove = (k: SshKey) =>
    act
      .run(
        () => unwrap(api.DELETE("/api/v1/ssh-keys/{id}", { params: { path: { id: k.id } } })),
        `Key ${k.name} removed.`,
      )
      .then(keys.reload);

  return (
    <>
      <PageTitle title="SSH keys">
        Public keys that may sign in through Warren's SSH gateway (<code>ssh ENV@HOST</code>; each
        environment's page shows its command).
      </PageTitle>
      <Section title="Your keys">
        <Loading state={keys}>
          {(items) =>
            items.length === 0 ? (
              <p>No keys yet. Add one below.</p>
            ) : (
              <ScrollTable label="Your SSH keys">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Type</th>
                      <th scope="col">Fingerprint</th>
                      <th scope="col">Added</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((k) => (
                      <tr key={k.id}>
                        <td>{k.name}</td>
                        <td>
                          {k.type} ({k.bits} bits)
                        </td>
                        <td>
                          <code class="wrap">{k.fingerprint}</code>
                        </td>
                        <td>{formatTime(k.createdAt)}</td>
                        <td>
                          <ConfirmButton label="Remove" what={`key ${k.name}`} onConfirm={() => remove(k)} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </ScrollTable>
            )
          }
        </Loading>
      </Section>
      <Section title="Add a key">
        <form onSubmit={add} class="form">
          <label for="ssh-key-public">Public key</label>
          <textarea
            id="ssh-key-public"
            rows={3}
            required
            spellcheck={false}
            placeholder="ssh-ed25519 AAAA… you@laptop"
            aria-describedby="ssh-key-help"
            value={publicKey}
            onInput={(e) => setPublicKey(inputValue(e))}
          />
          <p id="ssh-key-help" class="help">
            The one line of ~/.ssh/id_ed25519.pub (ed25519, ECDSA, or RSA of 3072 bits or more).
          </p>
          <label for="ssh-key-name">Name (optional)</label>
          <input
            id="ssh-key-name"
            type="text"
            maxLength={100}
            value={name}
            onInput={(e) => setName(inputValue(e))}
          />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={act.busy || !publicKey.trim()}>
              Add key
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={act.error} />
      <StatusNote text={act.status} />
    </>
  );
}
