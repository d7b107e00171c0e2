// Saved remote servers, kubectl/docker style: `warren login` adds one and makes it current,
// `warren context use|rm|ls` manage them. The file holds bearer tokens, so it is written 0600
// (in a 0700 directory) on every save, atomically, and `ls` never prints a token.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { WarrenError } from "@warren/protocol";

/** The built-in context: the local unix socket (WARREN_SOCKET or the default). */
export const LOCAL_CONTEXT = "local";

export interface Context {
  /** `https://host:port`. */
  url: string;
  /** Pinned SHA-256 of the server certificate (canonical form). */
  fingerprint: string;
  token?: string;
}

export interface ContextsFile {
  current?: string;
  contexts: Record<string, Context>;
}

export function contextsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_CONFIG_HOME"] || path.join(env["HOME"] || homedir(), ".config");
  return path.join(base, "warren", "contexts.json");
}

export function readContexts(file = contextsPath()): ContextsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    // EACCES: another user's file (HOME inherited, e.g. without sudo -H); not ours to use.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES") return { contexts: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContextsFile>;
    return { ...(parsed.current ? { current: parsed.current } : {}), contexts: parsed.contexts ?? {} };
  } catch {
    throw new WarrenError("INVALID_ARGUMENT", `${file} is not valid JSON; fix or remove it`);
  }
}

export function writeContexts(data: ContextsFile, file = contextsPath()): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  // Created 0600 from the start: the token is never readable by others, not even briefly.
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function saveContext(name: string, ctx: Context, opts: { use: boolean }, file = contextsPath()): void {
  if (name === LOCAL_CONTEXT)
    throw new WarrenError("INVALID_ARGUMENT", `"${LOCAL_CONTEXT}" names the local socket`);
  const data = readContexts(file);
  data.contexts[name] = ctx;
  if (opts.use) data.current = name;
  writeContexts(data, file);
}

export function useContext(name: string, file = contextsPath()): void {
  const data = readContexts(file);
  if (name === LOCAL_CONTEXT) delete data.current;
  else if (!data.contexts[name]) throw unknownContext(name);
  else data.current = name;
  writeContexts(data, file);
}

export function removeContext(name: string, file = contextsPath()): void {
  const data = readContexts(file);
  if (!data.contexts[name]) throw unknownContext(name);
  delete data.contexts[name];
  if (data.current === name) delete data.current;
  writeContexts(data, file);
}

/** The context commands talk to: $WARREN_CONTEXT, else the file's current one; undefined = local. */
export function currentContext(
  env: NodeJS.ProcessEnv = process.env,
): { name: string; ctx: Context } | undefined {
  const data = readContexts(contextsPath(env));
  const name = env["WARREN_CONTEXT"] || data.current;
  if (!name || name === LOCAL_CONTEXT) return undefined;
  const ctx = data.contexts[name];
  if (!ctx) throw unknownContext(name);
  return { name, ctx };
}

/** What `context ls` shows: everything but the token. */
export interface ContextSummary {
  name: string;
  current: boolean;
  url: string;
  fingerprint?: string;
  hasToken: boolean;
}

export function listContexts(file = contextsPath(), env: NodeJS.ProcessEnv = process.env): ContextSummary[] {
  const data = readContexts(file);
  const current = env["WARREN_CONTEXT"] || data.current || LOCAL_CONTEXT;
  const local: ContextSummary = {
    name: LOCAL_CONTEXT,
    current: current === LOCAL_CONTEXT,
    url: `unix://${env["WARREN_SOCKET"] ?? "/run/warren/warren.sock"}`,
    hasToken: false,
  };
  return [
    local,
    ...Object.entries(data.contexts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => ({
        name,
        current: name === current,
        url: c.url,
        fingerprint: c.fingerprint,
        hasToken: typeof c.token === "string" && c.token !== "",
      })),
  ];
}

function unknownContext(name: string): WarrenError {
  return new WarrenError("INVALID_ARGUMENT", `no context named "${name}"; see \`warren context ls\``);
}
