// The app shell: find out whether this browser is signed in (the session probe also hands over
// the CSRF token), then show the sign-in page or the signed-in layout and the page the path names.
import { useEffect, useState } from "preact/hooks";
import { errorMessage, onUnauthenticated } from "./api.ts";
import { stopEnvironments } from "./environments.ts";
import { Layout } from "./layout.tsx";
import { SignIn } from "./pages/sign-in.tsx";
import { Routes } from "./routes.tsx";
import { loadSession, type Session, SessionContext } from "./session.ts";

type Boot = { kind: "loading" } | { kind: "error"; message: string } | { kind: "ready"; session?: Session };

export function App() {
  const [boot, setBoot] = useState<Boot>({ kind: "loading" });
  const load = () =>
    loadSession().then(
      (session) => setBoot(session ? { kind: "ready", session } : { kind: "ready" }),
      (err: unknown) => setBoot({ kind: "error", message: errorMessage(err) }),
    );
  useEffect(() => {
    void load();
    // The session ended elsewhere (signed out in another tab, token revoked): back to sign-in.
    return onUnauthenticated(() => {
      stopEnvironments();
      setBoot({ kind: "ready" });
    });
  }, []);

  if (boot.kind === "loading") return <p class="boot">Loading…</p>;
  if (boot.kind === "error")
    return (
      <main class="boot" id="main">
        <h1>Warren</h1>
        <p role="alert" class="error">
          {boot.message}
        </p>
        <button type="button" onClick={() => void load()}>
          Retry
        </button>
      </main>
    );
  if (!boot.session) return <SignIn onSignedIn={(session) => setBoot({ kind: "ready", session })} />;
  const signedOut = () => {
    stopEnvironments();
    setBoot({ kind: "ready" });
  };
  return (
    <SessionContext.Provider value={{ session: boot.session, signedOut }}>
      <Layout>
        <Routes />
      </Layout>
    </SessionContext.Provider>
  );
}
