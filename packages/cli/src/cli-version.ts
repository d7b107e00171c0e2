// The CLI's own version, read from its package.json: cheap enough for `warren --version`, which
// must not load the API client.
import { readFileSync } from "node:fs";

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
