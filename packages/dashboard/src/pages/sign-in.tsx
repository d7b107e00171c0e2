// Sign-in: paste an API token once (it is exchanged for an HttpOnly session cookie and not kept
// by the page), or go through the organisation's identity provider where OIDC is configured.
import { useState } from "preact/hooks";
import { errorMessage } from "../api.ts";
import { oidcAvailable, type Session, signIn } from "../session.ts";

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(token.trim());
      setToken("");
      onSignedIn(session);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to Warren</h1>
      {oidcAvailable() && (
        <p>
          <a class="button" href="/auth/oidc">
            Sign in with your identity provider
          </a>
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          Run <code>warren dashboard --open</code> for a one-time sign-in link, or paste a token from{" "}
          <code>warren admin token create</code>. The token is exchanged for a session and not stored in the
          browser.
        </p>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
