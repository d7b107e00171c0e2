// Source rewrites the CLI bundle's build (build.ts) applies to Warren's own files before esbuild
// sees them. Pure text in, text out; each keeps the line count, so source maps stay right.
import { builtinModules } from "node:module";
import path from "node:path";

/**
 * Built-ins a command may never use, yet modules on every command's path import (the remote
 * transport's TLS, certificate fingerprints, ws's compression): build.ts gives them a stand-in
 * that loads them on first use of an export. Not the ones every command needs (http, net) or
 * Node has loaded before any code runs (fs, path, events...): a stand-in only adds a step to
 * every use of those.
 */
export const LAZY_BUILTINS: readonly string[] = [
  "child_process", // commander requires it at load, for external subcommands Warren has none of
  "crypto",
  "dgram",
  "dns",
  "fs/promises",
  "http2",
  "https",
  "inspector",
  "readline",
  "sqlite",
  "tls",
  "v8",
  "vm",
  "worker_threads",
  "zlib",
];

const BUILTINS = new Set(builtinModules);

/** `node:fs`, `fs/promises` → `fs`, `fs/promises`; anything else → undefined. */
export function builtinName(spec: string): string | undefined {
  const name = spec.replace(/^node:/, "");
  return BUILTINS.has(name) || (spec.startsWith("node:") && BUILTINS.has(`node:${name}`)) ? name : undefined;
}

const IMPORT_META =
  /new URL\((["'])(\.{1,2}\/[^"']+\.ts)\1,\s*import\.meta\.url\)|\bimport\.meta\.(url|dirname|filename|main)\b/g;

/**
 * Where code finds files next to its source (native helpers, the DNS resolver's and the SQLite
 * checkpointer's entry files, package.json), it keeps finding them there: import.meta.url,
 * dirname and filename become the source file's location, relative to the bundle's directory so
 * the checkout can move. `new URL("./x.ts", import.meta.url)` naming a file that is an entry of
 * the bundle (`entries`: source path → bundled file name) names the bundled file instead, so the
 * CLI starts its supervisor and daemon from the bundle. import.meta.main stays only in an
 * entry's own file (the supervisor's `if (import.meta.main)`); elsewhere it is false, as it was
 * for a module imported by another, since a chunk may be inlined into an entry node runs.
 */
export function rewriteImportMeta(
  source: string,
  file: string,
  outdir: string,
  entries: ReadonlyMap<string, string>,
): string {
  const at = (p: string) => `new URL(${JSON.stringify(path.relative(outdir, p) || ".")},import.meta.url)`;
  const pathOf = (p: string) => `decodeURIComponent(${at(p)}.pathname)`;
  const isEntry = entries.has(file);
  // One pass: what a replacement writes (import.meta.url) is never rewritten again.
  return source.replace(IMPORT_META, (_whole, _q, spec: string | undefined, prop: string | undefined) => {
    if (spec !== undefined) {
      const bundled = entries.get(path.resolve(path.dirname(file), spec));
      const base = bundled ? "import.meta.url" : rewriteProp("url");
      return `new URL(${JSON.stringify(bundled ? `./${bundled}` : spec)},${base})`;
    }
    return rewriteProp(prop!);
  });

  function rewriteProp(prop: string): string {
    if (prop === "url") return `${at(file)}.href`;
    if (prop === "dirname") return pathOf(path.dirname(file));
    if (prop === "filename") return pathOf(file);
    return isEntry ? "import.meta.main" : "false";
  }
}

const IMPORT_FROM = /^import\s+([^;'"]*?)\s*from\s*(["'])([^"']+)\2;?/gm;

/**
 * `import { a, b as c } from "node:x"` → `var { a, b: c } = require("node:x");` (a default or
 * namespace import binds the module itself). Node builds an ES module facade for a built-in
 * imported as one, reading every export, lazy getters included: `import ... from "node:http"`
 * alone loads undici (http's WebSocket getter). required, it costs only what it runs. As `var`,
 * like an import, the name is bound before the module's body runs. Type-only imports go; the
 * LAZY_BUILTINS stay imports (their stand-in module defers them).
 */
export function requireBuiltinImports(source: string): string {
  return source.replace(IMPORT_FROM, (whole, clause: string, _q, spec: string) => {
    const name = builtinName(spec);
    if (name === undefined || LAZY_BUILTINS.includes(name)) return whole;
    const keepLines = "\n".repeat(whole.split("\n").length - 1);
    if (/^type\s/.test(clause)) return keepLines;
    const mod = `require(${JSON.stringify(`node:${name}`)})`;
    const m = /^(?:([\w$]+)\s*,?\s*)?(?:\*\s*as\s+([\w$]+)|\{([^}]*)\})?$/.exec(clause.trim());
    if (!m) return whole; // a form this does not know stays an import, which is correct, only slower
    const [, def, ns, named] = m;
    const parts: string[] = [];
    const self = def ?? ns;
    if (self) parts.push(`var ${self} = ${mod};`);
    const bindings = (named ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "" && !/^type\s/.test(s))
      .map((s) => s.replace(/^([\w$]+)\s+as\s+([\w$]+)$/, "$1: $2"));
    if (bindings.length > 0) parts.push(`var { ${bindings.join(", ")} } = ${self ?? mod};`);
    return parts.join(" ") + keepLines;
  });
}

/**
 * The stand-in for a lazy built-in: a CommonJS module whose exports load the real one on first
 * use. It lists the export names `keys` (from the Node that builds, `nodeVersion`); under another
 * Node it loads the real module at once, since the list might differ. `__esModule`, which
 * esbuild's import of a CommonJS module reads first, is answered without loading: no built-in
 * has it (reading it loaded node:crypto, 10 to 20 ms, in every command that imports crypto).
 */
export function lazyBuiltinModule(spec: string, keys: readonly string[], nodeVersion: string): string {
  const load = `require(${JSON.stringify(spec)})`;
  return `let real;
const load = () => (real ??= ${load});
const keys = ${JSON.stringify(keys)};
module.exports = process.version !== ${JSON.stringify(nodeVersion)} ? load() : new Proxy({}, {
  get: (_, k) => (k === "__esModule" ? undefined : load()[k]),
  has: (_, k) => k in load(),
  ownKeys: () => keys,
  getOwnPropertyDescriptor: (_, k) =>
    keys.includes(k) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined,
});
`;
}
