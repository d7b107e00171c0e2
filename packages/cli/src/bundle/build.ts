// Bundles the `warren` command (CLI and daemon) with esbuild into one directory: minified ESM,
// split at main.ts's lazy `await import(...)`s, so a command loads only the chunks it runs and a
// command registered the same way needs nothing here. scripts/build-cli.ts runs it; bin/warren
// runs the result through launcher.ts. Build-time code: the bundle never contains it.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as esbuild from "esbuild";
import {
  builtinName,
  LAZY_BUILTINS,
  lazyBuiltinModule,
  requireBuiltinImports,
  rewriteImportMeta,
} from "./transforms.ts";

const CLI_SRC = path.resolve(import.meta.dirname, "..");
const REPO = path.resolve(CLI_SRC, "../../..");
const LAUNCHER = path.join(CLI_SRC, "bundle/launcher.ts");

/** Entry points by bundled name: the launcher, the CLI, and the daemon's supervisor (connect.ts). */
const ENTRIES: Record<string, string> = {
  warren: LAUNCHER,
  main: path.join(CLI_SRC, "main.ts"),
  supervisor: path.join(CLI_SRC, "supervisor.ts"),
};

/**
 * Packages with native addons (or optional ones) load from node_modules as they are: a .node
 * file cannot be bundled, and ssh2 finds its native crypto by a path relative to its own files.
 */
export const EXTERNAL = ["ssh2", "cpu-features", "node-pty", "pg-native"];

/** A CommonJS dependency's require() and the rewritten built-in imports need a require. */
const BANNER = 'import{createRequire as __wcr}from"node:module";const require=__wcr(import.meta.url);';

/** Warren's own files, rewritten by transforms.ts (node_modules are bundled as they are). */
function warrenSources(outdir: string): esbuild.Plugin {
  const entries = new Map(Object.entries(ENTRIES).map(([name, file]) => [file, `${name}.js`]));
  return {
    name: "warren-sources",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        let text = readFileSync(args.path, "utf8");
        // The launcher's import.meta is the bundle's own: it looks for the bundle beside itself.
        if (args.path !== LAUNCHER) text = rewriteImportMeta(text, args.path, outdir, entries);
        return { contents: requireBuiltinImports(text), loader: "ts" };
      });
    },
  };
}

/**
 * The protocol package's modules have no effects at import (declarations only: protocol/test/no-import-effects.test.ts keeps
 * that so), so a chunk that imports one name from its index (run.ts's WarrenError) gets that
 * name's modules, not the whole API client's; a `warren ls` loads a third less code.
 */
function protocolWithoutSideEffects(): esbuild.Plugin {
  const protocolSrc = path.join(REPO, "packages/protocol/src") + path.sep;
  return {
    name: "warren-protocol-side-effect-free",
    setup(build) {
      build.onResolve({ filter: /^@warren\/protocol|^\.\.?\// }, async (args) => {
        if (args.pluginData === "warren-protocol") return undefined;
        if (!args.path.startsWith("@warren/protocol") && !args.importer.startsWith(protocolSrc))
          return undefined;
        const { kind, importer, resolveDir, with: attributes } = args;
        const r = await build.resolve(args.path, {
          kind,
          importer,
          resolveDir,
          with: attributes,
          pluginData: "warren-protocol",
        });
        if (r.errors.length > 0 || !r.path.startsWith(protocolSrc))
          return r.errors.length > 0 ? { errors: r.errors } : undefined;
        return { path: r.path, sideEffects: false };
      });
    },
  };
}

/**
 * Built-ins that dependencies import as ES modules are required instead, for the reason
 * requireBuiltinImports gives, through a CommonJS stand-in; the LAZY_BUILTINS, imported or
 * required by anyone, through their lazy stand-in.
 */
function builtinsByRequire(): esbuild.Plugin {
  const require = createRequire(import.meta.url);
  return {
    name: "warren-builtins-by-require",
    setup(build) {
      build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) => {
        const name = builtinName(args.path);
        if (name === undefined) return undefined;
        const spec = `node:${name}`;
        if (args.namespace === "warren-builtin") return { path: spec, external: true };
        // A dependency's require() of one that is not lazy stays a plain require, in its chunk.
        if (args.kind === "require-call" && !LAZY_BUILTINS.includes(name))
          return { path: spec, external: true };
        return { path: spec, namespace: "warren-builtin" };
      });
      build.onLoad({ filter: /.*/, namespace: "warren-builtin" }, (args) => {
        const name = args.path.slice("node:".length);
        const contents = LAZY_BUILTINS.includes(name)
          ? lazyBuiltinModule(args.path, Object.keys(require(args.path) as object), process.version)
          : `module.exports = require(${JSON.stringify(args.path)});`;
        return { contents, loader: "js" };
      });
    },
  };
}

/** A require("./x") left in the bundle would look for x beside the bundle: fail the build instead. */
function assertNoRelativeRequires(dir: string): void {
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".js"))) {
    const found = readFileSync(path.join(dir, f), "utf8").match(/\brequire\((["'`])\.{1,2}\/[^"'`]*\1\)/g);
    if (found) bad.push(`${f}: ${[...new Set(found)].join(", ")}`);
  }
  if (bad.length > 0) {
    throw new Error(
      `the bundle requires files by relative paths it does not contain (a package esbuild cannot follow: alias its ESM build, or make it external):\n  ${bad.join("\n  ")}`,
    );
  }
}

export interface BuildSummary {
  files: number;
  bytes: number;
  ms: number;
}

function bundle(entryPoints: Record<string, string>, splitting: boolean, outdir: string, tmp: string) {
  return esbuild.build({
    entryPoints,
    absWorkingDir: REPO,
    outdir: tmp,
    bundle: true,
    splitting,
    format: "esm",
    platform: "node",
    target: "node24",
    minify: true,
    // Class and function names stay as written: messages and checks that use them see no change.
    keepNames: true,
    sourcemap: "linked",
    metafile: true,
    external: EXTERNAL,
    banner: { js: BANNER },
    // import.meta rewrites are relative to where the bundle ends up, not the temp dir.
    plugins: [protocolWithoutSideEffects(), builtinsByRequire(), warrenSources(outdir)],
    // Its UMD build (the "main" field) requires its own files through a parameter esbuild cannot
    // follow; its ESM build is the same code.
    alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
    logLevel: "warning",
    legalComments: "none",
  });
}

/**
 * The plain forms' entry (fast-path.ts, which the launcher runs for them) as one file, apart from
 * the split build: its two dozen chunks there cost more to find, read and link than their code
 * costs to run. It shares no module instance with the split build's chunks: a process runs one
 * or the other.
 */
const PLAIN_ENTRIES: Record<string, string> = { plain: path.join(CLI_SRC, "fast-path.ts") };

export async function buildCli(outdir: string): Promise<BuildSummary> {
  const t0 = Date.now();
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const split = await bundle(ENTRIES, true, outdir, tmp);
  const plain = await bundle(PLAIN_ENTRIES, false, outdir, tmp);
  const result = {
    metafile: {
      inputs: { ...split.metafile.inputs, ...plain.metafile.inputs },
      outputs: { ...split.metafile.outputs, ...plain.metafile.outputs },
    },
  };
  assertNoRelativeRequires(tmp);
  // What the launcher compares the bundle with: every file of this repository that went in, and
  // the lock file (a dependency's update); relative to the bundle. The build's start, not its
  // end, is its time: a file saved while it ran counts as newer.
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes("node_modules/") && !p.startsWith("warren-builtin:"))
    .map((p) => path.relative(outdir, path.resolve(REPO, p)));
  inputs.push(path.relative(outdir, path.join(REPO, "package-lock.json")));
  writeFileSync(path.join(tmp, "inputs.json"), `${JSON.stringify({ builtAtMs: t0, inputs })}\n`);
  const meta = JSON.stringify(result.metafile).replaceAll(
    path.relative(REPO, tmp),
    path.relative(REPO, outdir),
  );
  writeFileSync(path.join(tmp, "meta.json"), meta);
  // Swapped in whole: a CLI call meanwhile runs the old bundle, or the sources for a moment.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(path.dirname(outdir), { recursive: true });
  renameSync(tmp, outdir);
  const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith(".js"));
  return { files: outputs.length, bytes: outputs.reduce((n, [, o]) => n + o.bytes, 0), ms: Date.now() - t0 };
}
