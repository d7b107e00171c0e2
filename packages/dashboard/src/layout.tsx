// The signed-in frame: a skip link, the header with who is signed in and sign-out, the nav
// (collapsible on a phone) and the page's <main>.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { errorMessage } from "./api.ts";
import { navSections } from "./nav.ts";
import { linkClick, usePath } from "./router.ts";
import { signOut, useSession } from "./session.ts";

export function Layout({ children }: { children: ComponentChildren }) {
  const { session, signedOut } = useSession();
  const path = usePath();
  const [menuOpen, setMenuOpen] = useState(false);
  const [error, setError] = useState<string>();
  const doSignOut = async () => {
    try {
      await signOut();
      signedOut();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const current = (p: string) =>
    p === "/" ? path === "/" || path.startsWith("/env/") : path === p || path.startsWith(`${p}/`);
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button
          type="button"
          class="menu-button"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <a class="brand" href="/" onClick={linkClick}>
          Warren
        </a>
        <span class="who">
          {session?.user} · {session?.org} ({session?.role})
        </span>
        <button type="button" class="secondary" onClick={() => void doSignOut()}>
          Sign out
        </button>
      </header>
      {error && (
        <p role="alert" class="error banner">
          {error}
        </p>
      )}
      <div class="body">
        <nav id="nav" aria-label="Main" class={menuOpen ? "nav open" : "nav"}>
          {navSections(session).map((s) => (
            <section key={s.title} aria-labelledby={`nav-${s.title}`}>
              <h2 id={`nav-${s.title}`}>{s.title}</h2>
              <ul>
                {s.links.map((l) => (
                  <li key={l.path}>
                    <a
                      href={l.path}
                      aria-current={current(l.path) ? "page" : undefined}
                      onClick={(e) => {
                        setMenuOpen(false);
                        linkClick(e);
                      }}
                    >
                      {l.title}
                    </a>
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
