// The nav's entries: the developer's pages, then every user's settings, then (for admins and
// owners only) the admin pages. The server refuses admin calls to anyone else regardless.
import type { JSX } from "preact";
import { ADMIN_ROUTES } from "./pages/admin/index.ts";
import { SETTINGS_ROUTES } from "./pages/settings/index.ts";
import { isAdmin, type Session } from "./session.ts";

export interface PageRoute {
  path: string;
  title: string;
  component: () => JSX.Element;
}

export interface NavSection {
  title: string;
  links: { path: string; title: string }[];
}

export function navSections(session: Session | undefined): NavSection[] {
  const sections: NavSection[] = [
    {
      title: "Environments",
      links: [
        { path: "/", title: "Environments" },
        { path: "/new", title: "New environment" },
      ],
    },
    { title: "Settings", links: SETTINGS_ROUTES.map(({ path, title }) => ({ path, title })) },
  ];
  if (isAdmin(session))
    sections.push({ title: "Admin", links: ADMIN_ROUTES.map(({ path, title }) => ({ path, title })) });
  return sections.filter((s) => s.links.length > 0);
}

/** B's pages, matched by exact path; admin pages are routed for everyone so a member sees the refusal. */
export function extraRoute(path: string): PageRoute | undefined {
  const clean = path.replace(/\/+$/, "") || "/";
  return [...SETTINGS_ROUTES, ...ADMIN_ROUTES].find((r) => r.path === clean);
}
