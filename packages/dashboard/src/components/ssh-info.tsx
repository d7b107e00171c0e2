// How to reach the environment with ssh through the gateway: a one-line command and the
// ssh-config block `warren ssh-config` would write (one Host per environment), each with a copy
// button. The gateway's host key is shown for known_hosts.
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, unwrap } from "../api.ts";
import { sshSnippets } from "../ssh-snippets.ts";

type Gateway = { host: string; port: number; hostKey: string; fingerprint: string; listening: boolean };

export function SshInfo({ name }: { name: string }) {
  const [gw, setGw] = useState<Gateway>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    unwrap(api.GET("/api/v1/ssh/gateway")).then(setGw, (err: unknown) => setError(errorMessage(err)));
  }, []);
  if (error)
    return (
      <section aria-labelledby="ssh-h">
        <h2 id="ssh-h">SSH</h2>
        <p class="error">{error}</p>
      </section>
    );
  if (!gw) return null;
  if (!gw.listening)
    return (
      <section aria-labelledby="ssh-h">
        <h2 id="ssh-h">SSH</h2>
        <p>This server runs no SSH gateway.</p>
      </section>
    );
  const s = sshSnippets(name, gw, location.hostname);
  return (
    <section aria-labelledby="ssh-h">
      <h2 id="ssh-h">SSH</h2>
      <p class="help">Add your public key under Settings first. The gateway's key is {gw.fingerprint}.</p>
      <CopyBlock label="Command" text={s.command} />
      <CopyBlock label="~/.ssh/config" text={s.config} />
      <CopyBlock label="~/.ssh/known_hosts" text={s.knownHosts} />
    </section>
  );
}

function CopyBlock({ label, text }: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="copy-block">
      <div class="copy-head">
        <span>{label}</span>
        <button
          type="button"
          class="secondary"
          aria-label={`Copy ${label}`}
          onClick={() =>
            void navigator.clipboard?.writeText(text).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <pre>{text}</pre>
    </div>
  );
}
