import { extraRoute } from "./nav.ts";
import { CreateEnvironment } from "./pages/create.tsx";
import { EnvironmentPage } from "./pages/environment.tsx";
import { EnvironmentsList } from "./pages/environments.tsx";
import { matchPath, usePath } from "./router.ts";

export function Routes() {
  const path = usePath();
  if (path === "/" || path === "") return <EnvironmentsList />;
  if (path === "/new") return <CreateEnvironment />;
  for (const tab of ["overview", "terminal", "logs"] as const) {
    const m = matchPath(tab === "overview" ? "/env/:name" : `/env/:name/${tab}`, path);
    if (m?.["name"]) return <EnvironmentPage key={m["name"]} name={m["name"]} tab={tab} />;
  }
  const page = extraRoute(path);
  if (page) {
    const Page = page.component;
    return <Page />;
  }
  return (
    <>
      <h1>Page not found</h1>
      <p>
        Nothing is at <code>{path}</code>. Go back to <a href="/">your environments</a>.
      </p>
    </>
  );
}
