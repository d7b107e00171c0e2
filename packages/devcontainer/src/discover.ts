// Where a repository keeps its devcontainer.json, in the spec's order of precedence.
const NAMED = /^\.devcontainer\/([^/]+)\/devcontainer\.json$/;

/** The devcontainer.json candidates among a repository's files (relative paths), first is the default. */
export function findDevcontainerConfigs(files: string[]): string[] {
  const set = new Set(files.map((f) => f.replace(/^\.\//, "")));
  const out: string[] = [];
  if (set.has(".devcontainer/devcontainer.json")) out.push(".devcontainer/devcontainer.json");
  if (set.has(".devcontainer.json")) out.push(".devcontainer.json");
  out.push(...[...set].filter((f) => NAMED.test(f)).sort());
  return out;
}

/** The folder a devcontainer.json's relative paths (Dockerfile, local Features) are resolved from. */
export function configFolder(configFile: string): string {
  const i = configFile.lastIndexOf("/");
  return i < 0 ? "." : configFile.slice(0, i);
}
